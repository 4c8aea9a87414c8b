"""Public pages: no sign-in needed."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from marketplace import clock
from marketplace.db import db_session
from marketplace.disclosure import services as disclosure
from marketplace.enums import ServiceCategory
from marketplace.web import inbox
from providers import admission
from providers.enums import ProviderStatus
from providers.models import Provider
from vouchers import programmes
from vouchers.enums import VerificationStatus
from vouchers.models import Enterprise

bp = Blueprint("public", __name__)

#: The five policy documents the platform implements (shared/POLICY.md), with the articles
#: its rules come from: what a visitor may want to read before applying.
POLICIES: tuple[tuple[str, str, str], ...] = (
    (
        "昆明市关于加快构建大众创业万众创新支撑平台的若干政策",
        "2018",
        "第五条 创业创新服务券，每户企业每年不超过3万元；第七条 科技创新券",
    ),
    (
        "云南省人民政府关于推动创新创业高质量发展打造“双创”升级版的实施意见（云政发〔2020〕6号）",
        "2020",
        "（十四）扩大服务机构范围、设置约束性条件；（十六）创新券按服务收入的50%以内兑付",
    ),
    (
        "加速昆明区域性国际科技创新中心建设若干措施",
        "2019",
        "第五条 服务券支持的服务类别与服务机构",
    ),
    (
        "云南省人民政府关于加快构建大众创业万众创新支撑平台的实施意见",
        "2016",
        "（六）（七）企业使用条件与信用约束",
    ),
    (
        "云南省关于加快众创空间发展服务实体经济转型升级的实施意见",
        "2016",
        "众创空间服务实体经济，科技资源向社会开放共享",
    ),
)


@bp.get("/")
def home() -> ResponseReturnValue:
    session = db_session()
    stats = {
        "providers": session.scalar(
            sa.select(sa.func.count()).where(Provider.status == ProviderStatus.ADMITTED)
        ),
        "enterprises": session.scalar(
            sa.select(sa.func.count()).where(
                Enterprise.verification_status == VerificationStatus.VERIFIED
            )
        ),
    }
    queues = inbox.inbox_for(session, current_user) if current_user.is_authenticated else []
    year = clock.today().year
    return render_template(
        "home.html",
        stats=stats,
        queues=queues,
        year=year,
        figures=disclosure.statistics(session, year),
        budgets=[b for b in programmes.budgets(session) if b.programme.year == year],
        categories=list(ServiceCategory),
        in_notice=admission.in_notice(session, clock.today()),
        policies=POLICIES,
    )

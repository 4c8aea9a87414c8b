"""Search by accreditation and place, on both databases: 'CNAS 检测' finds the testing
services of CNAS-accredited laboratories whose own text never says CNAS, an expired
accreditation stops matching (the day after its validity, not before), the accreditation
filter, qualification numbers, and division names down to the county (GB/T 2260)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from marketplace.enums import InstitutionType, ServiceCategory
from providers.enums import QualificationKind
from providers.models import ProviderQualification
from providers.search import SearchCriteria, kinds_named, region_prefixes, search_page

TODAY = date(2026, 6, 15)
_numbers = itertools.count(30_001)


@pytest.fixture
def labs(session, create_provider, create_service):
    def lab(name, division, *qualifications):
        # Key laboratories: their type's label (重点实验室) does not say 检测 itself.
        provider = create_provider(
            name=name, division=division, institution_type=InstitutionType.KEY_LABORATORY
        )
        for kind, valid_until in qualifications:
            number = (
                f"L{next(_numbers)}" if kind is QualificationKind.CNAS else f"{next(_numbers):012d}"
            )
            session.add(
                ProviderQualification(
                    provider_id=provider.id, kind=kind, number=number, valid_until=valid_until
                )
            )
        session.flush()
        return provider

    cnas = lab("滇中材料实验室", "530102", (QualificationKind.CNAS, TODAY + timedelta(days=300)))
    cma = lab("高原质量中心", "530103", (QualificationKind.CMA, None))
    lapsed = lab("曲靖分析所", "530302", (QualificationKind.CNAS, TODAY - timedelta(days=1)))
    services = {
        "cnas_testing": create_service(
            cnas, title="金属力学性能测试", description="拉伸、冲击试验。"
        ),
        "cnas_consulting": create_service(
            cnas,
            title="材料选型咨询",
            category=ServiceCategory.CONSULTING,
            description="为企业提供材料选型建议。",
            unit="项",
        ),
        "cma_testing": create_service(cma, title="水质分析", description="地表水常规指标。"),
        "lapsed_testing": create_service(lapsed, title="土壤成分分析", description="重金属。"),
    }
    return {"providers": {"cnas": cnas, "cma": cma, "lapsed": lapsed}, **services}


def _found(session, **criteria):
    items, _total = search_page(session, SearchCriteria(today=TODAY, **criteria), per_page=50)
    return {s.id for s in items}


def _ids(labs, *names):
    return {labs[n].id for n in names}


def test_cnas_testing_finds_accredited_labs_testing_services(session, labs):
    assert _found(session, q="CNAS 检测") == _ids(labs, "cnas_testing")
    assert _found(session, q="cnas") == _ids(labs, "cnas_testing", "cnas_consulting")
    assert _found(session, q="实验室认可 咨询") == _ids(labs, "cnas_consulting")
    assert _found(session, q="CMA 检测") == _ids(labs, "cma_testing")


def test_an_expired_accreditation_stops_matching_the_day_after(session, labs):
    lapsed_until = TODAY - timedelta(days=1)
    assert "lapsed_testing" not in {
        k for k, v in labs.items() if k != "providers" and v.id in _found(session, q="CNAS")
    }
    items, _ = search_page(session, SearchCriteria(q="CNAS", today=lapsed_until), per_page=50)
    assert labs["lapsed_testing"].id in {s.id for s in items}  # on its last valid day


def test_filter_by_accreditation(session, labs):
    assert _found(session, accreditation=QualificationKind.CNAS) == _ids(
        labs, "cnas_testing", "cnas_consulting"
    )
    assert _found(session, accreditation=QualificationKind.CMA) == _ids(labs, "cma_testing")
    assert _found(session, accreditation=QualificationKind.PATENT_AGENCY) == set()


def test_a_qualification_number_finds_its_holder(session, labs):
    number = labs["providers"]["cnas"].qualifications[0].number
    assert _found(session, q=number) == _ids(labs, "cnas_testing", "cnas_consulting")


def test_county_and_prefecture_names(session, labs):
    assert _found(session, q="五华区") == _ids(labs, "cnas_testing", "cnas_consulting")
    assert _found(session, q="盘龙") == _ids(labs, "cma_testing")
    # 昆明市 (5301) covers both counties, not Qujing's 麒麟区 (530302).
    assert _found(session, q="昆明 分析") == _ids(labs, "cma_testing")
    assert _found(session, q="麒麟区 分析") == _ids(labs, "lapsed_testing")


def test_words_that_name_an_accreditation():
    assert kinds_named("CNAS") == [QualificationKind.CNAS]
    assert kinds_named("cma") == [QualificationKind.CMA]
    assert kinds_named("检测") == []  # the service's word, not every CMA laboratory's
    assert kinds_named("专利代理") == [QualificationKind.PATENT_AGENCY]


def test_region_terms():
    assert region_prefixes("五华") == ("441424", "530102")  # 五华县 (Guangdong) too
    assert region_prefixes("五华区") == ("530102",)
    assert region_prefixes("昆明") == ("5301",)
    assert region_prefixes("市") == ()  # matches hundreds: means nothing
    assert region_prefixes("SEM") == ()

"""Unified social credit code (统一社会信用代码), GB 32100-2015.

Layout of the 18 characters::

    1      registration authority (登记管理部门代码)
    2      organisation category within that authority (机构类别代码)
    3–8    administrative-division code of registration (登记管理机关行政区划码, GB/T 2260)
    9–17   organisation code (组织机构代码, GB 11714): 8 body characters and its own check digit
    18     check character over characters 1–17 (校验码)

Every character comes from a 31-character set: the digits and the capital letters without
I, O, Z, S and V. Each rule has its own error code so a person is told which rule failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace import regions

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(CHARSET)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]

#: Registration authority → allowed organisation categories (GB 32100-2015, table 1).
CATEGORIES: dict[str, dict[str, str]] = {
    "1": {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    "2": {"1": "外国常驻新闻机构", "9": "其他"},
    "3": {
        "1": "律师执业机构",
        "2": "公证处",
        "3": "基层法律服务所",
        "4": "司法鉴定机构",
        "5": "仲裁委员会",
        "9": "其他",
    },
    "4": {"1": "外国在华文化中心", "9": "其他"},
    "5": {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    "6": {
        "1": "外国旅游部门常驻代表机构",
        "2": "港澳台地区旅游部门常驻内地（大陆）代表机构",
        "9": "其他",
    },
    "7": {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"},
    "8": {"1": "基层工会", "9": "其他"},
    "9": {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
    "A": {"1": "军队事业单位", "9": "其他"},
    "N": {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    "Y": {"1": "其他"},
}

YUNNAN_PREFIX = "53"
KUNMING_PREFIX = "5301"


class CreditCodeError(ValueError):
    """A credit code broke one rule of GB 32100-2015; ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class CreditCode:
    value: str
    authority: str
    category: str
    division_code: str
    organisation_code: str

    @property
    def province(self) -> str:
        return regions.full_name(self.division_code[:2])

    @property
    def region_name(self) -> str:
        """The most specific name we know for the division of registration."""
        return region_name(self.division_code)

    @property
    def is_yunnan(self) -> bool:
        return self.division_code.startswith(YUNNAN_PREFIX)

    @property
    def is_kunming(self) -> bool:
        return self.division_code.startswith(KUNMING_PREFIX)

    @property
    def category_name(self) -> str:
        return CATEGORIES[self.authority][self.category]

    def __str__(self) -> str:
        return self.value


def region_name(division_code: str) -> str:
    """ "云南省昆明市五华区" for 530102 (GB/T 2260, down to the county); "" when unknown."""
    return regions.full_name(division_code)


def organisation_check_digit(body: str) -> str:
    """GB 11714 check character for the 8-character organisation-code body."""
    total = sum(_org_char_value(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    remainder = 11 - total % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def _org_char_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    return ord(char) - ord("A") + 10


def credit_check_character(first17: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def parse_credit_code(raw: str) -> CreditCode:
    """Validate ``raw`` and return its parts; raise CreditCodeError naming the rule that failed.

    Surrounding white space is ignored and lower-case letters are accepted, since people
    copy codes from documents; everything else must be exact.
    """
    value = raw.strip().upper()
    if len(value) != 18:
        raise CreditCodeError(
            "length",
            f"统一社会信用代码应为18位，当前为{len(value)}位 (must be 18 characters, got {len(value)})",
        )
    bad = sorted({c for c in value if c not in _VALUE})
    if bad:
        raise CreditCodeError(
            "charset",
            f"含有不允许的字符 {''.join(bad)}（不得使用 I、O、Z、S、V） "
            f"(characters not allowed: {''.join(bad)}; I, O, Z, S and V are never used)",
        )
    authority, category = value[0], value[1]
    if authority not in CATEGORIES:
        raise CreditCodeError(
            "authority",
            f"第1位登记管理部门代码 {authority} 不存在 (unknown registration authority code {authority!r})",
        )
    if category not in CATEGORIES[authority]:
        raise CreditCodeError(
            "category",
            f"第2位机构类别代码 {category} 不属于登记管理部门 {authority} "
            f"(organisation category {category!r} is not defined for authority {authority!r})",
        )
    division = value[2:8]
    if not division.isdigit():
        raise CreditCodeError(
            "division",
            f"第3–8位行政区划码必须为数字 (characters 3–8, the division code, must be digits: {division})",
        )
    if not regions.is_known(division[:2]):
        raise CreditCodeError(
            "division",
            f"行政区划码 {division} 的省级代码 {division[:2]} 不存在 (no province with code {division[:2]})",
        )
    org_body, org_check = value[8:16], value[16]
    expected_org = organisation_check_digit(org_body)
    if org_check != expected_org:
        raise CreditCodeError(
            "organisation_check",
            f"第9–17位组织机构代码校验位错误，应为 {expected_org} "
            f"(organisation code check digit must be {expected_org!r}, got {org_check!r})",
        )
    expected = credit_check_character(value[:17])
    if value[17] != expected:
        raise CreditCodeError(
            "check",
            f"第18位校验码错误，应为 {expected} (check character must be {expected!r}, got {value[17]!r})",
        )
    return CreditCode(
        value=value,
        authority=authority,
        category=category,
        division_code=division,
        organisation_code=value[8:17],
    )


def make_credit_code(
    division: str, org_body: str, *, authority: str = "9", category: str = "1"
) -> str:
    """Build a valid code from its parts (demo data and test factories)."""
    if len(org_body) != 8 or any(c not in _VALUE for c in org_body):
        raise ValueError("org_body must be 8 characters from the credit-code character set")
    first17 = authority + category + division + org_body + organisation_check_digit(org_body)
    if any(c not in _VALUE for c in first17):
        raise ValueError(
            "organisation check digit falls outside the character set; choose another body"
        )
    return first17 + credit_check_character(first17)

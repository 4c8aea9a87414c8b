from marketplace import masking


def test_bank_account_keeps_the_first_and_last_four_digits():
    assert masking.bank_account("6228 4800 1234 5670 001") == "6228 **** **** 0001"
    assert masking.bank_account("6228480012345670001") == "6228 **** **** 0001"
    assert masking.bank_account("12345") == "****" and masking.bank_account(None) == ""


def test_phone_numbers():
    assert masking.phone("13800138000") == "138****8000"
    assert masking.phone("0871-65123456") == "0871****3456"
    assert masking.phone("110") == "****" and masking.phone("") == ""


def test_email_keeps_the_domain_and_one_letter():
    assert masking.email("zhang.wei@example.cn") == "z***@example.cn"
    assert masking.email("not-an-address") == "***" and masking.email(None) == ""


def test_id_number_hides_the_birth_date():
    masked = masking.id_number("53010219900101123X")
    assert masked == "5301**********123X" and "19900101" not in masked
    assert masking.id_number("1234") == "****"


def test_person_names():
    assert masking.person_name("张伟") == "张*"
    assert masking.person_name("欧阳小明") == "欧***"
    assert masking.person_name("王") == "王"


def test_organisation_names_keep_two_characters_at_each_end():
    assert masking.organisation_name("昆明滇池材料科技有限公司") == "昆明********公司"
    assert masking.organisation_name("云南某厂") == "云***"
    assert masking.organisation_name("某厂") == "某*"
    assert masking.organisation_name("  ") == ""
    assert masking.organisation_name(None) == ""

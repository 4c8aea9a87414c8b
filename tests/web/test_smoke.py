def test_home_page_in_chinese_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    assert 'lang="zh-Hans"' in response.get_data(as_text=True)


def test_login_works(client, create_user, auth):
    user = create_user()
    response = auth.login(user)
    assert response.status_code == 302
    assert client.get("/account").status_code == 200

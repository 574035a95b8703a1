from helpers import text_of


def test_start_page_and_sign_in(client, owner, auth):
    assert "Guestgate" in text_of(client.get("/"))
    response = auth.sign_in()
    assert response.status_code == 303
    assert "Rooms" in text_of(client.get("/rooms/"))

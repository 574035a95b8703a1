"""The people of a room: waiting, inside, turned away; admit, deny, admit all, remove, move to
the waiting room, allow again, change the role."""

from flask_smorest import Blueprint

from .auth import protect

blp = Blueprint("api_people", __name__, url_prefix="/api/v1/rooms/<int:room_id>",
                description="The waiting room and who is inside.")
protect(blp)

"""What Guestgate does, once, for every door: the guest's and owner's screens, the REST API, the
command line and background jobs call these functions and only answer in their own format.

Services take plain values (a room, an invitation, who acts) and return results; they never read
the request or validate a form, and each change writes its audit event in the same transaction.
Below them: the rules (portal/decision.py, portal/tokens.py) and the data (portal/models.py,
portal/prepared.py). Above them: portal/guest/, portal/owner/, portal/admin.py, portal/cli.py.

- invitations: personal invitations — invite, email, change the role, reset, remove;
- calendar_updates: the calendar updates and cancellations their emails promise;
- links: guest access on or off, and shared guest links — create, extend, raise, delete;
- rooms: the rules of a room's fields; create, update, delete; the meeting name (save);
- api_tokens: the REST API's personal access tokens — create, list, revoke, check.
- webhooks: owners' endpoints, and `emit`, which the others call in their transactions.
"""

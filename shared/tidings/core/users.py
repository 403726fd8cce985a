"""What a user id is: the token's `sub`, 1 to 64 letters, digits, `.`, `_` or `-`, starting with a
letter or digit (a Cognito subject is a UUID). The API and the live connections refuse any other."""

import re

SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

"""Which passwords Signpost accepts: long enough, and not guessable. zxcvbn (shipped with the
app, no network) knows 30,000 common and breached passwords, keyboard walks, dates, names
and words, and how a person's own email or name makes a password weaker."""

from app.core.errors import InvalidField

MIN_LENGTH = 12
MIN_SCORE = 3  # zxcvbn: 3 is "safely unguessable: moderate protection from offline attack"
JUDGED_LENGTH = 72  # how much of a password zxcvbn reads


def password_problem(password: str, *personal: str | None) -> str | None:
    """Why ``password`` is refused, or None. ``personal``: the account's email and name."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    # Imported when first needed: its dictionaries cost every API worker 13 MB, and only
    # sign-up and password changes use them.
    from zxcvbn import zxcvbn

    # zxcvbn refuses (ValueError) more than its max_length, 72 by default, because its cost
    # grows with length; what the first 72 characters leave guessable, the rest cannot save.
    words = [p for value in personal if value for p in value.replace("@", " ").split()]
    verdict = zxcvbn(password[:JUDGED_LENGTH], user_inputs=words, max_length=JUDGED_LENGTH)
    if verdict["score"] >= MIN_SCORE:
        return None
    warning = verdict["feedback"]["warning"].rstrip(".")
    why = f" ({warning[0].lower()}{warning[1:]})" if warning else ""
    return f"is too easy to guess{why}; try a few unrelated words"


def check_password(field: str, password: str, *personal: str | None) -> None:
    if problem := password_problem(password, *personal):
        raise InvalidField(field, problem, "weak_password")

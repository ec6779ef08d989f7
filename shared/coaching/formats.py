"""What an id and a clock time look like, wherever they appear (a body, a query, a path, a stored
item), and how a refusal says so. Apart from the models so that the problem mapping, which the
docs function uses too, can name them without building every model."""

ID_PATTERN = r"^[A-Za-z0-9._:@|+-]+$"
ID_MAX_LENGTH = 128
ID_MESSAGE = "must be an id: 1 to 128 letters, digits and . _ : @ | + -"

CLOCK_TIME_PATTERN = r"^(([01]\d|2[0-3]):(00|15|30|45)|24:00)$"
""""HH:MM" on the 15-minute grid; "24:00" may only end a day."""
CLOCK_TIME_MESSAGE = "must be a time on the 15-minute grid from 00:00 to 24:00, as HH:MM"

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
EMAIL_MESSAGE = "must be an email address"

PATTERN_MESSAGES = {
    ID_PATTERN: ID_MESSAGE,
    CLOCK_TIME_PATTERN: CLOCK_TIME_MESSAGE,
    EMAIL_PATTERN: EMAIL_MESSAGE,
}

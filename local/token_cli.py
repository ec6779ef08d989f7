"""``local/token``: print a JWT that the local stack's gateway accepts, valid for one hour."""

import argparse

from local.auth import mint
from local.seed import USERS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="local/token", description=__doc__)
    parser.add_argument("--sub", required=True, help="the user's id (the token's subject)")
    parser.add_argument("--role", required=True, choices=["member", "coach", "support", "admin"])
    parser.add_argument("--email")
    parser.add_argument("--name")
    parser.add_argument("--zoneinfo", help="IANA time zone, e.g. Europe/London")
    args = parser.parse_args(argv)
    # The demo users' tokens carry their demo contact details unless told otherwise, so that
    # what they book is emailed as the seeded sessions are.
    demo = next((u for u in USERS if u.sub == args.sub and u.role.value == args.role), None)
    print(
        mint(
            args.sub,
            args.role,
            email=args.email or (demo.email if demo else None),
            name=args.name or (demo.name if demo else None),
            zoneinfo=args.zoneinfo or (demo.zoneinfo if demo else None),
        )
    )


if __name__ == "__main__":
    main()

"""``local/token``: print a JWT that the local stack's gateway accepts, valid for one hour."""

import argparse

from local.auth import mint


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="local/token", description=__doc__)
    parser.add_argument("--sub", required=True, help="the user's id (the token's subject)")
    parser.add_argument("--role", required=True, choices=["member", "coach", "support", "admin"])
    parser.add_argument("--email")
    parser.add_argument("--name")
    parser.add_argument("--zoneinfo", help="IANA time zone, e.g. Europe/London")
    args = parser.parse_args(argv)
    print(mint(args.sub, args.role, email=args.email, name=args.name, zoneinfo=args.zoneinfo))


if __name__ == "__main__":
    main()

"""Which webhook URLs may be used: https to public addresses only, judged address by address
from what the host resolves to (here, resolvers of the test's own: no network)."""

import ipaddress

import pytest

from coaching.events.webhooks import addresses
from coaching.events.webhooks.addresses import Refused

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def resolving(*found: str) -> addresses.Lookup:
    return lambda host, port: list(found)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 (an address to refuse, not one to bind)
        "224.0.0.251",
        "240.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:a00:1::",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "ff02::1",
    ],
)
def test_addresses_that_reach_inside_are_not_public(address: str) -> None:
    assert not addresses.is_public(ipaddress.ip_address(address))
    with pytest.raises(Refused) as refused:
        addresses.destination("https://hooks.example.com/x", lookup=resolving(address))
    assert refused.value.code == "ADDRESS_NOT_ALLOWED"


@pytest.mark.parametrize("address", [PUBLIC_V4, "1.1.1.1", PUBLIC_V6, f"::ffff:{PUBLIC_V4}"])
def test_public_addresses_pass(address: str) -> None:
    found = addresses.destination("https://hooks.example.com/x", lookup=resolving(address))

    # an IPv4 address written as IPv6 is connected to as the IPv4 address it is
    assert found.addresses == (address.removeprefix("::ffff:"),)


def test_every_address_of_a_name_must_pass_and_ipv4_is_tried_first() -> None:
    with pytest.raises(Refused):
        addresses.destination("https://hooks.example.com/", lookup=resolving(PUBLIC_V4, "10.0.0.1"))
    found = addresses.destination(
        "https://hooks.example.com/", lookup=resolving(PUBLIC_V6, PUBLIC_V4, PUBLIC_V4)
    )
    assert found.addresses == (PUBLIC_V4, PUBLIC_V6)


def test_a_name_that_resolves_to_nothing_or_fails_is_refused() -> None:
    def failing(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    for lookup in (resolving(), failing):
        with pytest.raises(Refused) as refused:
            addresses.destination("https://nowhere.example.com/", lookup=lookup)
        assert refused.value.code == "DNS_FAILED"


def test_a_url_is_taken_apart_as_the_request_will_use_it() -> None:
    url = addresses.parse("HTTPS://Hooks.Example.com:8443/in/coming?source=x&y=1")

    assert url == addresses.Url(
        scheme="https", host="hooks.example.com", port=8443, target="/in/coming?source=x&y=1"
    )
    assert addresses.parse("https://hooks.example.com").target == "/"
    assert addresses.parse("https://hooks.example.com").port == 443
    assert addresses.parse("https://[2606:2800:21f::1]/x").host == "2606:2800:21f::1"


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/",
        "ftp://hooks.example.com/",
        "//hooks.example.com/",
        "https://user@hooks.example.com/",
        "https://user:pw@hooks.example.com/",
        "https://hooks.example.com/#frag",
        "https://hooks.example.com/#",
        "https://hooks.example.com/a b",
        "https://hooks.example.com/\t",
        "https://hooks.exämple.com/",
        "https://hooks_example.com/",
        "https://-hooks.example.com/",
        "https://hooks.example.com:0/",
        "https://hooks.example.com:65536/",
        "https:///path",
        "https://" + "a" * 64 + ".example.com/",
        "https://hooks.example.com/" + "x" * 2048,
    ],
)
def test_urls_that_are_not_plain_https_to_a_host_are_refused_before_any_lookup(url: str) -> None:
    def no_lookup(host: str, port: int) -> list[str]:
        raise AssertionError("looked up")

    with pytest.raises(Refused) as refused:
        addresses.destination(url, lookup=no_lookup)
    assert refused.value.code == "URL_NOT_ALLOWED"


def test_the_local_setting_adds_loopback_over_http_and_nothing_else() -> None:
    loopback = addresses.destination(
        "http://localhost:8080/h", allow_loopback=True, lookup=resolving("127.0.0.1", "::1")
    )
    assert loopback.addresses == ("127.0.0.1", "::1")
    assert (
        addresses.destination(
            "https://127.0.0.1/h", allow_loopback=True, lookup=resolving("127.0.0.1")
        ).url.scheme
        == "https"
    )
    for url, found in (
        ("http://hooks.example.com/", PUBLIC_V4),  # http is for loopback only
        ("https://hooks.example.com/", "10.0.0.1"),
        ("https://hooks.example.com/", "169.254.169.254"),
    ):
        with pytest.raises(Refused):
            addresses.destination(url, allow_loopback=True, lookup=resolving(found))

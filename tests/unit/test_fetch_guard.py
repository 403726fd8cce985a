"""The guarded client for user-given URLs (tidings.core.fetch): every way round the network guard that
has been tried is refused before a connection is made, a redirect hop is checked like the first URL,
the connection goes to the address that was checked (a DNS answer that changes afterwards reaches
nothing), a body stops at its cap while streaming, and failures name no internal address, port or
operating-system error.

No socket is opened: the client's socket maker is a fake that records where it was asked to connect
and plays the server's bytes."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager

import httpcore
import httpx
import pytest

from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.fetch import FETCH_ERRORS, MAX_REDIRECTS, failure, guarded_client
from tidings.core.http import Media, MediaSource, sized
from tidings.core.platforms import MEDIA_MAX_BYTES, Platform
from tidings.models.accounts import AccountCredentials
from tidings.publishing.base import PublishRequest
from tidings.publishing.clients import build_client

PUBLIC = "93.184.216.34"
CHUNK = 64 * 1024


class Stream(httpcore.NetworkStream):
    """One connection: hands out the server's bytes as they are read, records what was written and
    the TLS server name asked for."""

    def __init__(self, answer: Iterator[bytes]) -> None:
        self.answer = answer
        self.served = 0
        self.written = b""
        self.server_hostname: str | None = None

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        chunk = next(self.answer, b"")
        self.served += len(chunk)
        return chunk

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.written += buffer

    def close(self) -> None:
        pass

    def start_tls(
        self, ssl_context: object, server_hostname: str | None = None, timeout: float | None = None
    ) -> Stream:
        self.server_hostname = server_hostname
        return self

    def get_extra_info(self, info: str) -> None:
        return None


class Sockets(httpcore.NetworkBackend):
    """The socket maker: each connection answers with `answer()`; `refuse` plays a closed port."""

    def __init__(self, answer: Callable[[], Iterator[bytes]] | None = None, *, refuse: bool = False) -> None:
        self.answer = answer or (lambda: iter([ok_answer(b"ok")]))
        self.refuse = refuse
        self.connections: list[tuple[str, int]] = []
        self.streams: list[Stream] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> Stream:
        self.connections.append((host, port))
        if self.refuse:
            raise ConnectionRefusedError(111, "Connection refused")
        stream = Stream(self.answer())
        self.streams.append(stream)
        return stream


def ok_answer(body: bytes, content_type: str = "text/plain") -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def redirect_to(location: str) -> Callable[[], Iterator[bytes]]:
    head = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    return lambda: iter([head.encode()])


def endless(headers: str = "") -> Callable[[], Iterator[bytes]]:
    """An image of no stated length that never ends (the connection closes the body)."""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n{headers}\r\n"
    return lambda: itertools.chain([head.encode()], itertools.repeat(b"\x89" * CHUNK))


def resolver(*answers: list[str]) -> Callable[[str], list[str]]:
    """A DNS that gives each answer in turn (the last one for ever after)."""
    queue = list(answers)

    def resolve(host: str) -> list[str]:
        resolve.calls.append(host)  # type: ignore[attr-defined]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    resolve.calls = []  # type: ignore[attr-defined]
    return resolve


def client(
    sockets: Sockets, resolve: Callable[[str], list[str]] | None = None, *, local: bool = False
) -> httpx.Client:
    return guarded_client(
        allow_private=local,
        timeout=5.0,
        user_agent="tidings-test",
        resolve=resolve or resolver([PUBLIC]),
        inner=sockets,
    )


def refusal(http: httpx.Client, url: str, **kwargs: object) -> tuple[str, str]:
    with pytest.raises(FETCH_ERRORS) as caught:
        http.get(url, **kwargs)  # type: ignore[arg-type]
    assert isinstance(caught.value, FETCH_ERRORS)
    return failure(caught.value)


# -- addresses -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://2130706433:3999/redirect/i.png", "loopback"),  # 127.0.0.1 as one decimal number
        ("https://2852039166/", "link-local"),  # 169.254.169.254, the metadata service
        ("https://0x7f.0.0.1/x.png", "loopback"),  # hex
        ("https://0x7f000001/x.png", "loopback"),
        ("https://0177.1/x.png", "loopback"),  # octal
        ("https://127.1/x.png", "loopback"),  # short form
        ("https://[::ffff:169.254.169.254]/", "link-local"),  # IPv4-mapped IPv6
        ("https://[::ffff:7f00:1]/", "loopback"),
        ("https://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64
        ("https://[2002:a00:1::]/", "private"),  # 6to4 of 10.0.0.1
        ("https://[::1]/", "loopback"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://10.1.2.3/", "private"),
        ("https://[fd00::5]/", "private"),  # unique local
        ("https://100.64.0.9/", "non-public"),  # CGNAT shared space
        ("https://224.0.0.251/", "multicast"),
        ("https://240.0.0.1/", "private"),  # reserved
        ("https://[fe80::1]/", "link-local"),
    ],
)
def test_a_non_public_address_in_any_spelling_is_refused_before_connecting(url: str, kind: str) -> None:
    sockets = Sockets()
    code, message = refusal(client(sockets), url)
    assert (code, message) == ("url_refused", f"the URL leads to a {kind} address")
    assert sockets.connections == []


def test_a_name_that_resolves_to_a_private_address_is_refused_without_saying_the_address() -> None:
    sockets = Sockets()
    resolve = resolver([PUBLIC, "10.20.30.40"])  # one bad answer among good ones is enough
    code, message = refusal(client(sockets, resolve), "https://intranet.example/x")
    assert code == "url_refused"
    assert "10.20.30.40" not in message
    assert "intranet" not in message
    assert sockets.connections == []


@pytest.mark.parametrize("url", ["http://cdn.example/i.png", "ftp://cdn.example/i.png", "file:///etc/passwd"])
def test_only_https_is_fetched_outside_the_local_runtime(url: str) -> None:
    sockets = Sockets()
    assert refusal(client(sockets), url) == ("url_refused", "only https URLs may be fetched")
    assert sockets.connections == []


def test_the_local_runtime_reaches_http_on_loopback() -> None:
    sockets = Sockets()
    response = client(sockets, local=True).get("http://127.0.0.1:3999/_media/a.png")
    assert response.text == "ok"
    assert sockets.connections == [("127.0.0.1", 3999)]


# -- the pin ---------------------------------------------------------------------------------------


def test_the_connection_goes_to_the_checked_address_even_when_dns_changes_its_answer() -> None:
    sockets = Sockets()
    resolve = resolver([PUBLIC], ["127.0.0.1"])  # public when checked, loopback on a second lookup
    response = client(sockets, resolve).get("https://rebind.example/feed")
    assert response.text == "ok"
    assert sockets.connections == [(PUBLIC, 443)]
    assert resolve.calls == ["rebind.example"]  # type: ignore[attr-defined]
    (stream,) = sockets.streams
    assert stream.server_hostname == "rebind.example"  # TLS checks the certificate of the name
    assert b"\r\nHost: rebind.example\r\n" in stream.written


# -- redirects -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("https://169.254.169.254/latest/meta-data/", "the URL leads to a link-local address"),
        ("https://2130706433/", "the URL leads to a loopback address"),
        ("http://cdn.example/i.png", "only https URLs may be fetched"),
    ],
)
def test_each_redirect_hop_is_checked_like_the_first_url(location: str, expected: str) -> None:
    sockets = Sockets(redirect_to(location))
    assert refusal(client(sockets), "https://cdn.example/i.png", follow_redirects=True) == (
        "url_refused",
        expected,
    )
    assert sockets.connections == [(PUBLIC, 443)]  # the first hop only


def test_a_hop_to_a_name_that_resolves_privately_is_refused() -> None:
    sockets = Sockets(redirect_to("https://internal.example/admin"))
    resolve = resolver([PUBLIC], ["192.168.0.10"])
    code, _ = refusal(client(sockets, resolve), "https://cdn.example/i.png", follow_redirects=True)
    assert code == "url_refused"
    assert sockets.connections == [(PUBLIC, 443)]


def test_redirects_stop_after_the_limit() -> None:
    sockets = Sockets(redirect_to("https://cdn.example/again"))
    code, _ = refusal(client(sockets), "https://cdn.example/i.png", follow_redirects=True)
    assert code == "too_many_redirects"
    assert len(sockets.connections) == MAX_REDIRECTS + 1


def test_a_dotted_octal_address_is_not_a_url_at_all() -> None:
    sockets = Sockets()
    assert refusal(client(sockets), "https://0177.0.0.1/x.png") == (
        "url_refused",
        "the URL is not a valid https URL",
    )
    assert sockets.connections == []


def test_a_redirect_is_not_followed_unless_asked() -> None:
    sockets = Sockets(redirect_to("https://169.254.169.254/"))
    assert client(sockets).get("https://cdn.example/i.png").status_code == 302
    assert sockets.connections == [(PUBLIC, 443)]


# -- size caps -------------------------------------------------------------------------------------


def opened(sockets: Sockets, platform: Platform, url: str) -> AbstractContextManager[Media]:
    return MediaSource(Settings(), client(sockets)).open(platform, url)


def test_media_without_a_content_length_stops_at_the_platform_cap_while_streaming() -> None:
    sockets = Sockets(endless())
    cap = MEDIA_MAX_BYTES[Platform.TWITTER]["image"]
    with (
        pytest.raises(PlatformCallError) as caught,
        opened(sockets, Platform.TWITTER, "https://cdn.example/i.png") as m,
    ):
        sized(m)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "media_too_large")
    (stream,) = sockets.streams
    assert cap < stream.served <= cap + 4 * CHUNK  # read up to the cap, not one megabyte further


def test_media_that_says_it_is_too_large_is_refused_before_its_body_is_read() -> None:
    too_big = MEDIA_MAX_BYTES[Platform.LINKEDIN]["video"] + 1
    sockets = Sockets(endless(f"Content-Length: {too_big}\r\n"))
    with (
        pytest.raises(PlatformCallError) as caught,
        opened(sockets, Platform.LINKEDIN, "https://cdn.example/v.mp4"),
    ):
        pass
    assert caught.value.code == "media_too_large"
    (stream,) = sockets.streams
    assert stream.served < CHUNK  # the headers only


def test_a_video_is_allowed_more_than_an_image() -> None:
    sockets = Sockets(endless())
    image_cap = MEDIA_MAX_BYTES[Platform.TWITTER]["image"]
    with opened(sockets, Platform.TWITTER, "https://cdn.example/clip.mp4") as m:
        read = 0
        for chunk in m.chunks:
            read += len(chunk)
            if read > 2 * image_cap:
                break
    assert read > 2 * image_cap


def test_an_ordinary_answer_is_capped_too() -> None:
    sockets = Sockets(endless())
    assert refusal(client(sockets), "https://hooks.example/x")[0] == "too_large"


# -- what failures say -----------------------------------------------------------------------------


def test_a_closed_port_says_only_that_the_server_could_not_be_reached() -> None:
    sockets = Sockets(refuse=True)
    code, message = refusal(client(sockets), "https://cdn.example:8443/x.png")
    assert (code, message) == ("unreachable", "the server could not be reached")


def test_media_on_a_private_address_fails_the_post_for_good_without_any_platform_call() -> None:
    platform_calls: list[httpx.Request] = []

    def platform(request: httpx.Request) -> httpx.Response:
        platform_calls.append(request)
        return httpx.Response(500)

    sockets = Sockets()
    youtube = build_client(
        Platform.YOUTUBE,
        Settings(),
        httpx.Client(transport=httpx.MockTransport(platform)),
        media_http=client(sockets),
    )
    account = AccountCredentials(platform=Platform.YOUTUBE, account_id="UC1", access_token="tok")
    request = PublishRequest(post_id="p1", text="Tour", media_urls=("https://2852039166/latest/tour.mp4",))
    with pytest.raises(PlatformCallError) as caught:
        youtube.publish(account, request)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.PERMANENT, "media_url_refused")
    assert caught.value.message == (
        "media https://2852039166/latest/tour.mp4: the URL leads to a link-local address"
    )
    assert platform_calls == []
    assert sockets.connections == []


# -- the local runtime's own ports -----------------------------------------------------------------

RUNTIME_PORT = 8123  # one of the runtime's own services (DynamoDB Local, moto, the lambda host, ...)
FAKES_PORT = 4000  # the fake platforms, which local media and webhooks use


def local_client(sockets: Sockets, resolve: Callable[[str], list[str]] | None = None) -> httpx.Client:
    return guarded_client(
        allow_private=True,
        timeout=5.0,
        user_agent="tidings-test",
        resolve=resolve or resolver(["127.0.0.1"]),
        inner=sockets,
        denied_ports={RUNTIME_PORT},
    )


@pytest.mark.parametrize(
    "url",
    [
        f"http://127.0.0.1:{RUNTIME_PORT}/invoke/http_api",
        f"http://localhost:{RUNTIME_PORT}/",
        f"http://0.0.0.0:{RUNTIME_PORT}/",  # reaches 127.0.0.1
        f"http://127.0.0.2:{RUNTIME_PORT}/",
        f"http://[::1]:{RUNTIME_PORT}/",
        f"http://2130706433:{RUNTIME_PORT}/",
        f"http://[::ffff:127.0.0.1]:{RUNTIME_PORT}/",
        f"https://127.0.0.1:{RUNTIME_PORT}/",
        f"http://receiver.example:{RUNTIME_PORT}/",  # a name that resolves to this machine
    ],
)
def test_the_local_runtime_refuses_its_own_ports_in_any_spelling(url: str) -> None:
    sockets = Sockets()
    assert refusal(local_client(sockets), url) == (
        "url_refused",
        "the URL leads to a port of the local runtime",
    )
    assert sockets.connections == []


def test_the_local_runtime_reaches_the_fakes_on_their_port() -> None:
    sockets = Sockets()
    assert local_client(sockets).get(f"http://127.0.0.1:{FAKES_PORT}/_media/a.png").text == "ok"
    assert sockets.connections == [("127.0.0.1", FAKES_PORT)]


def test_a_redirect_to_a_runtime_port_is_refused() -> None:
    sockets = Sockets(redirect_to(f"http://127.0.0.1:{RUNTIME_PORT}/"))
    url = f"http://127.0.0.1:{FAKES_PORT}/_media/a.png"
    assert refusal(local_client(sockets), url, follow_redirects=True)[0] == "url_refused"
    assert sockets.connections == [("127.0.0.1", FAKES_PORT)]


def test_a_runtime_port_on_a_name_is_reached_only_at_the_public_address_checked() -> None:
    sockets = Sockets()
    resolve = resolver([PUBLIC], ["127.0.0.1"])  # public when checked, this machine afterwards
    assert local_client(sockets, resolve).get(f"http://rebind.example:{RUNTIME_PORT}/").text == "ok"
    assert sockets.connections == [(PUBLIC, RUNTIME_PORT)]


def test_the_runtime_ports_are_the_settings_for_fetches_and_saved_urls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tidings.core.config import get_settings
    from tidings.core.http import guarded_http_client
    from tidings.core.netguard import outbound_url_problem

    # Given the ports `tidings dev` sets, with private links allowed
    monkeypatch.setenv("TIDINGS_LOCAL_RUNTIME_PORTS", f"{RUNTIME_PORT},9000")
    monkeypatch.setenv("TIDINGS_ALLOW_PRIVATE_LINKS", "true")
    get_settings.cache_clear()
    try:
        # Then a webhook or notification URL on one of them is refused where it is saved
        hook = "http://127.0.0.1:9000/hook"
        assert outbound_url_problem(hook, allow_private=True) == (
            "url_refused",
            "the URL is refused (port of the local runtime)",
        )
        assert outbound_url_problem(f"http://127.0.0.1:{FAKES_PORT}/hook", allow_private=True) is None
        # and by the client every user-given URL is fetched with, before any connection
        with pytest.raises(FETCH_ERRORS) as caught:
            guarded_http_client(get_settings()).post(hook, content=b"{}")
        assert isinstance(caught.value, FETCH_ERRORS)
        assert failure(caught.value)[0] == "url_refused"
    finally:
        get_settings.cache_clear()

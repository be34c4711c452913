"""Every option as a command-line flag and as an environment variable (OAK_ and the flag's name).

Precedence: a flag on the command line wins over the environment variable, which wins over the default. Every
value is checked at start; a bad one stops the service with a message naming the flag or variable, exit code 2.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, replace
from pathlib import Path

from actors.durable import make_directory
from actors.sensors import MODELS

from .mqtt_target import MqttTarget


def _models(text: str) -> list[str]:
    models = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if not models or unknown:
        raise argparse.ArgumentTypeError(f"unknown model(s) {', '.join(unknown) or '(none given)'}; "
                                         f"choose from {', '.join(MODELS)}")
    return models


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 to 65535, not {text}")
    return port


def _choice(*options: str):
    def parse(text: str) -> str:
        if text.lower() not in options:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(options)}, not {text!r}")
        return text.lower()
    return parse


def _readable_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text} is not a readable file")
    return path


def _origins(text: str) -> list[str]:
    origins = [o.strip().rstrip("/") for o in text.split(",") if o.strip()]
    bad = [o for o in origins if o != "*" and not o.startswith(("http://", "https://"))]
    if bad:
        raise argparse.ArgumentTypeError(f"origins look like https://host[:port], not {', '.join(bad)}")
    return origins


def _mqtt_url(text: str) -> MqttTarget:
    try:
        return MqttTarget.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (mqtt://[user@]host[:port][/prefix], mqtts:// for TLS)") from None


def default_state_dir() -> Path:
    """systemd's StateDirectory= when run as a unit, else the user's XDG state directory."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "oak-camera-service"


@dataclass(frozen=True)
class Option:
    flag: str
    parse: object
    default: object
    help: str
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")

    @property
    def env(self) -> str:
        return "OAK_" + self.dest.upper()


OPTIONS = (
    Option("--host", str, "127.0.0.1", "address to listen on; 0.0.0.0 for every interface"),
    Option("--port", _port, 8080, "TCP port to listen on; 0 for any free one (the ready line in the log names it)"),
    Option("--simulate", _models, None, "run on simulated cameras instead of real ones: a comma-separated list "
           f"of {', '.join(MODELS)}; a model may repeat (e.g. oak-d,oak-d,oak-1)", "MODELS"),
    Option("--simulate-seed", str, None, "gives the simulated cameras mxids of their own: the same models with "
           "the same seed get the same mxids on every start, another seed (one per gateway) other mxids",
           "TEXT"),
    Option("--state-dir", Path, None, "where each camera's streams, config and control are saved, to be "
           "restored on start and when a camera returns (default: $STATE_DIRECTORY, else "
           "$XDG_STATE_HOME/oak-camera-service or ~/.local/state/oak-camera-service)", "DIR"),
    Option("--device-timeout", _positive(float), 10.0, "deadline for one device operation (a pipeline rebuild "
           "waits for the first frame within it); a late one is answered 504 and the camera is reopened",
           "SECONDS"),
    Option("--discovery-interval", _positive(float), 2.0, "how often to look for cameras that appeared or "
           "came back", "SECONDS"),
    Option("--mailbox-size", _positive(int), 128, "commands that may wait for one camera; more are answered 503",
           "N"),
    Option("--max-feeds", _positive(int), 4, "live video parameter sets (fps, quality, width) one stream runs at "
           "once, each a reader and an encoder; a viewer asking for another joins the nearest", "N"),
    Option("--initial-streams", _choice("sensors", "none"), "sensors", "what a camera with no saved state starts "
           "with: its sensor streams (CAM_*) active, as the original API did, or none", "sensors|none"),
    Option("--h264-encoder", _choice("camera", "host"), "camera", "who encodes WebSocket H.264 video of real "
           "cameras: the camera's own encoder where the stream fits its limits (the gateway only packs it), or "
           "the gateway for every stream", "camera|host"),
    Option("--max-connections", _positive(int), 1024, "concurrent client connections; a connection beyond them "
           "is answered 503 at once (keep it under the open-file limit, LimitNOFILE in the unit)", "N"),
    Option("--max-body", _positive(int), 64 * 1024, "largest request body in bytes; larger ones are answered 413",
           "BYTES"),
    Option("--wedged-restart", _positive(float), 120.0, "seconds a camera may stay wedged (a device call that "
           "never returned) before the systemd watchdog keep-alive stops, so that systemd restarts the service",
           "SECONDS"),
    Option("--body-timeout", _positive(float), 10.0, "seconds a request body may stop arriving before the "
           "request is answered 408 and its connection closed", "SECONDS"),
    Option("--token-file", _readable_file, None, "file of bearer tokens, one per line (blank lines and lines "
           "starting with # are ignored); when given, every endpoint but /healthz and /readyz needs one", "FILE"),
    Option("--cors-origins", _origins, None, "comma-separated origins allowed to call the API from a browser "
           "(e.g. https://fleet.example.com); CORS is off without it", "ORIGINS"),
    Option("--tls-cert", _readable_file, None, "certificate (PEM) to serve HTTPS with; needs --tls-key", "FILE"),
    Option("--tls-key", _readable_file, None, "private key (PEM) of --tls-cert", "FILE"),
    Option("--metrics", _choice("on", "off"), "on", "serve Prometheus metrics at /metrics", "on|off"),
    Option("--announce", _choice("auto", "on", "off"), "auto", "announce the gateway on the LAN by DNS-SD "
           "(_oak-camera._tcp): auto does when listening beyond loopback", "auto|on|off"),
    Option("--mqtt-url", _mqtt_url, None, "publish the events to this MQTT broker too, under "
           "<prefix>/<gateway id>/ (default prefix: oak): mqtt://[user@]host[:port][/prefix], mqtts:// for TLS; "
           "the password from --mqtt-password-file or $OAK_MQTT_PASSWORD rather than in the URL, where ps shows "
           "it", "URL"),
    Option("--mqtt-results", _choice("on", "off"), "off", "with --mqtt-url, publish every neural network's results "
           "too, each stream's under cameras/<mxid>/streams/<stream>/nn", "on|off"),
    Option("--mqtt-password-file", _readable_file, None, "file whose first line is the MQTT password", "FILE"),
    Option("--log-level", _choice("debug", "info", "warning", "error"), "info", "log level"),
    Option("--log-format", _choice("text", "json"), "text", "plain text lines, or one JSON object per line"),
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="oak-camera-service", description="REST API for the Luxonis OAK cameras attached to this machine.",
        epilog="Every option can also be set by an environment variable: OAK_ and the option's name in capitals "
               "with _ for -, e.g. OAK_PORT=8081 or OAK_SIMULATE=oak-d,oak-1. A flag given on the command line "
               "wins over its variable.")
    for o in OPTIONS:
        default = o.default if o.default is not None else "none"
        p.add_argument(o.flag, type=o.parse, default=None, metavar=o.metavar,
                       help=f"{o.help} (${o.env}; default: {default})")
    return p


def parse(argv=None, environ=os.environ) -> argparse.Namespace:
    """Flags, then environment variables, then defaults; exits with a message (code 2) on a bad value."""
    p = parser()
    args = p.parse_args(argv)
    for o in OPTIONS:
        if getattr(args, o.dest) is not None:
            continue
        raw = environ.get(o.env)
        if raw is None or raw == "":
            setattr(args, o.dest, o.default)
            continue
        try:
            setattr(args, o.dest, o.parse(raw))
        except (argparse.ArgumentTypeError, ValueError) as exc:
            p.error(f"{o.env}={raw!r}: {exc}")
    if (args.tls_cert is None) != (args.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    if args.mqtt_url is not None:
        args.mqtt_url = _with_password(args.mqtt_url, args.mqtt_password_file, environ.get("OAK_MQTT_PASSWORD"))
    args.state_dir = args.state_dir or default_state_dir()
    try:
        make_directory(args.state_dir)
        probe = args.state_dir / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        p.error(f"--state-dir {args.state_dir} is not a writable directory: {exc.strerror or exc}")
    return args


def _with_password(target: MqttTarget, file: Path | None, variable: str | None) -> MqttTarget:
    """The broker's password from the file, else the variable, else the URL's."""
    if file is not None:
        lines = file.read_text().splitlines()
        return replace(target, password=lines[0] if lines else "")
    if variable:
        return replace(target, password=variable)
    return target


def read_tokens(path: Path) -> list[str]:
    tokens = [line.strip() for line in path.read_text().splitlines()]
    return [t for t in tokens if t and not t.startswith("#")]

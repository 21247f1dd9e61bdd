"""salary-models: look at and operate a model store (folder or gs://) by hand."""

import argparse
import json
import os
import sys

from salary import defaults, reproduce, runs, store_ops
from salary.model_store import ModelStore, open_store
from salary.store_errors import ModelRejected, StoreError


def _keep(text: str) -> int:
    """argparse type: a count of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return value


def _reason(text: str) -> str:
    """argparse type: a non-empty, one-line reason."""
    if not text.strip() or "\n" in text:
        raise argparse.ArgumentTypeError("must be one non-empty line")
    return text.strip()


def build_parser() -> argparse.ArgumentParser:
    """The command line of salary-models."""
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", default=argparse.SUPPRESS,
                       help=f"model store: a folder or gs://bucket/prefix (default: $MODEL_URI, else {defaults.LOCAL_MODEL_STORE})")
    parser = argparse.ArgumentParser(prog="salary-models", description=__doc__, parents=[store])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", parents=[store], help="versions, newest first; which is latest and pinned")
    listing.add_argument("--history", action="store_true", help="instead: every change of latest.json and the pin, oldest first")
    show = commands.add_parser("show", parents=[store], help="a version's manifest")
    show.add_argument("version")
    verify = commands.add_parser("verify", parents=[store], help="every check the web app makes before serving (default: latest)")
    which = verify.add_mutually_exclusive_group()
    which.add_argument("version", nargs="?")
    which.add_argument("--all", action="store_true", help="every stored version")
    rollback = commands.add_parser("rollback", parents=[store], help="verify a version, then make latest.json name it")
    rollback.add_argument("--to", required=True, metavar="VERSION")
    rollback.add_argument("--reason", required=True, type=_reason)
    pin = commands.add_parser("pin", parents=[store], help="serve VERSION and keep it latest: publishing stores but does not move latest.json")
    pin.add_argument("version")
    pin.add_argument("--reason", required=True, type=_reason)
    unpin = commands.add_parser("unpin", parents=[store], help="let publishing move latest.json again")
    unpin.add_argument("--reason", default="unpinned", type=_reason)
    prune = commands.add_parser("prune", parents=[store], help="delete old versions (never the latest, pinned or rolled-back-to ones)")
    prune.add_argument("--keep", required=True, type=_keep, metavar="N", help="newest versions to keep")
    prune.add_argument("--yes", action="store_true", help="delete; without it, only print what would be deleted")
    rebuild = commands.add_parser("reproduce", parents=[store],
                                  help="check a version's recorded inputs, re-run its training into a scratch store, compare: MATCH or the first difference")
    rebuild.add_argument("version")
    rebuild.add_argument("--runner", choices=("subprocess", "container"), default="subprocess",
                         help="re-run the tasks in this environment, or each inside the recorded components image")
    listing_runs = commands.add_parser("runs", help="the dry runs recorded under the local root, oldest first")
    listing_runs.add_argument("--local-root", default=defaults.LOCAL_ROOT, help="the dry run's local root (compile.py --local-root)")
    listing_runs.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two runs' parameters and metrics side by side (a unique prefix will do)")
    listing_runs.add_argument("--json", action="store_true", help="the records as JSON")
    return parser


def show_runs(local_root: str, compare: list[str] | None, as_json: bool) -> int:
    """The runs table, or two runs side by side; 1 when a named run is not found or the file is not readable."""
    try:
        records = runs.read_runs(local_root)
        chosen = [runs.find_run(records, name) for name in compare] if compare else records
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(chosen, indent=2, sort_keys=True))
    elif compare:
        width = max([len(name) for name, *_ in runs.comparison(*chosen)] + [4])
        print(f"  {'':<{width}} {chosen[0]['run']:<32} {chosen[1]['run']}")
        for name, first, second, differs in runs.comparison(*chosen):
            print(f"{'*' if differs else ' '} {name:<{width}} {first:<32} {second}")
    else:
        print(f"{'run':<48} {'at':<20} {'version':<26} " + " ".join(f"{name:>11}" for name in runs.TABLE_METRICS))
        for record in records:
            numbers = " ".join(f"{_number(record['metrics'].get(name, '-'), '.6g'):>11}" for name in runs.TABLE_METRICS)
            print(f"{record['run']:<48} {str(record.get('at', ''))[:19]:<20} {record['params'].get('store_version') or '-':<26} {numbers}")
    return 0


def list_versions(store: ModelStore) -> None:
    """One line per version, newest first."""
    latest, refused = store_ops.latest_status(store)
    pinned = store_ops.read_pin(store)
    print(f"{'version':<26} {'created':<21} {'r2':>7} {'size':>7} {'rows':>7}  status")
    for version in reversed(store.versions()):
        marks = []
        if version == latest:
            marks.append("latest" + (f" (fails verification: {refused})" if refused else ""))
        if version == pinned.version:
            marks.append(f"pinned by {pinned.actor} at {pinned.at}: {pinned.reason}")
        try:
            manifest = store.read_manifest(version)
        except ModelRejected as exc:
            print(f"{version:<26} unreadable: {exc.reason}  {', '.join(marks)}".rstrip())
            continue
        r2, rows = manifest["metrics"].get("r2"), manifest["data"].get("rows")
        print(
            f"{version:<26} {str(manifest['created_at'])[:19] + 'Z':<21} {_number(r2, '.4f'):>7} "
            f"{manifest['size_bytes']:>7} {_number(rows, '.0f'):>7}  {', '.join(marks)}".rstrip()
        )
    if pinned.version is not None:
        print(f"pinned to {pinned.version}: pipeline runs store new versions but do not make them latest")


def _number(value, spec: str) -> str:
    """A manifest number for the table; what it is otherwise (a manifest is the store writer's text)."""
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def list_history(store: ModelStore) -> None:
    """One line per history record, oldest first."""
    for record in store.history():
        print(f"{record['at']}  {record['action']:<8} {record.get('from') or '-'} -> {record.get('to') or '-'}  "
              f"by {record.get('actor', '?')}" + (f": {record['reason']}" if record.get("reason") else ""))


def verify(store: ModelStore, versions: list[str]) -> int:
    """Load each version exactly as the web app does; 1 when any is refused."""
    failed = 0
    for version in versions:
        reason = store_ops.refusal(store, version)
        print(f"ok       {version}" if reason is None else f"refused  {version}: {reason}")
        failed += reason is not None
    return 1 if failed else 0


def prune(store: ModelStore, keep: int, yes: bool) -> int:
    """Print (or, with --yes, delete) the versions beyond the newest `keep`, minus the protected ones."""
    doomed = store_ops.prune_plan(store, keep)
    if not doomed:
        print("nothing to prune")
        return 0
    for version in doomed:
        if yes:
            store_ops.delete_version(store, version)
        print(f"{'deleted' if yes else 'would delete'} {version}")
    if not yes:
        print("(nothing deleted: add --yes to delete these)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Carry out one command on the store."""
    if args.command == "runs":
        return show_runs(args.local_root, args.compare, args.json)
    store = open_store(getattr(args, "store", None) or os.environ.get("MODEL_URI") or defaults.LOCAL_MODEL_STORE)
    if args.command == "list":
        (list_history if args.history else list_versions)(store)
        return 0
    if args.command == "show":
        print(json.dumps(store.read_manifest(args.version), indent=2, sort_keys=True))
        return 0
    if args.command == "reproduce":
        outcome = reproduce.reproduce(store, args.version, args.runner)
        for note in outcome.notes:
            print(f"note: {note}")
        print(outcome.difference or "MATCH")
        return 1 if outcome.difference else 0
    if args.command == "verify":
        return verify(store, store.versions() if args.all else [args.version or store.latest_version()])
    if args.command == "rollback":
        record = store_ops.rollback(store, args.to, args.reason)
        print(f"latest.json: {record['from']} -> {record['to']} (web apps follow within their poll interval)")
    elif args.command == "pin":
        record = store_ops.pin(store, args.version, args.reason)
        print(f"pinned to {record['to']} (latest.json was {record['from']})")
    elif args.command == "unpin":
        record = store_ops.unpin(store, args.reason)
        print(f"unpinned {record['from']}: the next blessed publish moves latest.json again")
    else:
        return prune(store, args.keep, args.yes)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when done, 1 when the store refused or failed (one line on stderr), 2 on bad usage.

    reproduce: 0 MATCH, 1 a difference, 2 when it could not check (bad usage, an unreadable store, version or input).
    """
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except StoreError as exc:
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2 if args.command == "reproduce" else 1


if __name__ == "__main__":
    sys.exit(main())

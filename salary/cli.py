"""salary-models: look at and operate a model store (folder or gs://) by hand."""

import argparse
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta

from salary import defaults, drift, reproduce, runs
from salary.errors import DriftError, ModelRejected, StoreError
from salary.impact import Impact, impact
from salary.store import operations, promotion
from salary.store.documents import is_version_name
from salary.store.model_store import LoadedModel, ModelStore, open_store
from salary.store.pins import read_pin


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


VERSION_WORDS = ("latest", "pinned")
VERSION_HELP = "a version name, or `latest` or `pinned` for the version latest.json or the pin names"


def _version(text: str) -> str:
    """argparse type: a version name by the store's one rule (or latest, pinned), so nothing the readers refuse is ever written."""
    if not is_version_name(text) and text not in VERSION_WORDS:
        raise argparse.ArgumentTypeError(
            f"must be a version name like 20260101T000000Z-0123abcd, latest or pinned, got {text!r}"
        )
    return text


_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def _duration(text: str) -> timedelta:
    """argparse type: a positive duration such as 90m, 24h or 7d."""
    match = re.fullmatch(r"([0-9]{1,6})([mhd])", text.strip())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of minutes, hours or days such as 90m, 24h or 7d, got {text!r}"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _threshold(text: str) -> float:
    """argparse type: a divergence threshold, above 0 and below 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1 (exclusive), got {text!r}")
    return value


def _svg_path(text: str) -> str:
    """argparse type: a file name ending in .svg."""
    if not text.endswith(".svg"):
        raise argparse.ArgumentTypeError(f"must be a file name ending in .svg, got {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command line of salary-models."""
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument(
        "--store",
        default=argparse.SUPPRESS,
        help=f"model store: a folder or gs://bucket/prefix (default: $MODEL_URI, else {defaults.LOCAL_MODEL_STORE})",
    )
    parser = argparse.ArgumentParser(prog="salary-models", description=__doc__, parents=[store])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, **options) -> argparse.ArgumentParser:
        """A subcommand whose help is its description too: `salary-models COMMAND --help` says what it does."""
        return subparsers.add_parser(name, description=options["help"], **options)

    listing = command("list", parents=[store], help="versions, newest first; which is latest and pinned")
    listing.add_argument(
        "--history", action="store_true", help="instead: every change of latest.json and the pin, oldest first"
    )
    listing.add_argument("--json", action="store_true", help="print the records as JSON")
    show = command("show", parents=[store], help="a version's manifest, as JSON")
    show.add_argument("version", type=_version, help=VERSION_HELP)
    verify = command("verify", parents=[store], help="every check the web app makes before serving (default: latest)")
    which = verify.add_mutually_exclusive_group()
    which.add_argument("version", nargs="?", type=_version, help=VERSION_HELP + " (default: latest)")
    which.add_argument("--all", action="store_true", help="every stored version")
    verify.add_argument("--json", action="store_true", help="print one record per version as JSON")
    rollback = command("rollback", parents=[store], help="verify a version, then make latest.json name it")
    rollback.add_argument("--to", required=True, metavar="VERSION", type=_version, help=VERSION_HELP)
    rollback.add_argument("--reason", required=True, type=_reason, help="why, one line, kept in the history")
    rollback.add_argument(
        "--source", help="first show the impact of the change on the predictions logged here (see impact)"
    )
    logged = argparse.ArgumentParser(add_help=False)
    logged.add_argument(
        "--source",
        required=True,
        help="logged predictions: the web app's log, a JSON-lines export of Cloud Logging, or bq://project.dataset.table",
    )
    logged.add_argument(
        "--since", type=_duration, metavar="DURATION", help="only predictions logged this recently (exports and tables)"
    )
    logged.add_argument("--json", action="store_true", help="print the result as JSON")
    check = command(
        "drift",
        parents=[store, logged],
        help="compare the years asked of a version with the years it was trained on (exit 1 on drift)",
    )
    check.add_argument(
        "--version",
        type=_version,
        help="the version whose predictions to check: " + VERSION_HELP + " (default: latest)",
    )
    check.add_argument(
        "--threshold",
        type=_threshold,
        default=drift.THRESHOLD,
        help=f"Jensen-Shannon divergence above which it is drift (default: {drift.THRESHOLD:g}, see docs/watching.md)",
    )
    check.add_argument("--plot", type=_svg_path, metavar="FILE.svg", help="draw both histograms into this SVG file")
    check.add_argument("--record", action="store_true", help="keep the result in the store for the model card")
    change = command(
        "impact",
        parents=[store, logged],
        help="how the answers to the logged predictions change if CANDIDATE replaces the served version",
    )
    change.add_argument("candidate", metavar="CANDIDATE", type=_version, help="the version to compare: " + VERSION_HELP)
    change.add_argument(
        "--against", metavar="VERSION", type=_version, help="the version it would replace (default: latest)"
    )
    pin = command(
        "pin", parents=[store], help="serve VERSION and keep it latest: publishing stores but does not move latest.json"
    )
    pin.add_argument("version", type=_version, help=VERSION_HELP)
    pin.add_argument("--reason", required=True, type=_reason, help="why, one line, kept in the history")
    repair = command(
        "repair", parents=[store], help="point an unreadable or refused latest.json where the web app falls back"
    )
    repair.add_argument(
        "--reason", default="repaired", type=_reason, help="why, one line, kept in the history (default: repaired)"
    )
    unpin = command("unpin", parents=[store], help="let publishing move latest.json again")
    unpin.add_argument(
        "--reason", default="unpinned", type=_reason, help="why, one line, kept in the history (default: unpinned)"
    )
    prune = command(
        "prune", parents=[store], help="delete old versions (never the latest, pinned or rolled-back-to ones)"
    )
    prune.add_argument("--keep", required=True, type=_keep, metavar="N", help="newest versions to keep")
    prune.add_argument("--yes", action="store_true", help="delete; without it, only print what would be deleted")
    rebuild = command(
        "reproduce",
        parents=[store],
        help="check a version's recorded inputs, re-run its training into a scratch store, compare: MATCH or the first difference",
    )
    rebuild.add_argument("version", type=_version, help=VERSION_HELP)
    rebuild.add_argument(
        "--runner",
        choices=("subprocess", "container"),
        default="subprocess",
        help="re-run the tasks in this environment, or each inside the recorded components image (default: subprocess)",
    )
    promoting = command(
        "promote",
        help="copy a verified version to another store, create-only with sha256 checked, and make it latest there",
    )
    promoting.add_argument("version", type=_version, help=VERSION_HELP + " (in the --from store)")
    promoting.add_argument(
        "--from",
        dest="from_store",
        required=True,
        metavar="STORE",
        help="the store it is in: a folder or gs://bucket/prefix",
    )
    promoting.add_argument(
        "--to", dest="to_store", required=True, metavar="STORE", help="the store to promote it to (its pin is obeyed)"
    )
    promoting.add_argument("--reason", required=True, type=_reason, help="why, one line, kept in the target's history")
    promoting.add_argument(
        "--source",
        help="first show the impact on the predictions logged here of replacing the target's latest (see impact)",
    )
    promoting.add_argument("--json", action="store_true", help="print what was done as JSON")
    listing_runs = command("runs", help="the local runs recorded under the local root, oldest first")
    listing_runs.add_argument(
        "--local-root",
        default=defaults.LOCAL_ROOT,
        help=f"where the local runs keep their records (compile.py --local-root; default: {defaults.LOCAL_ROOT})",
    )
    listing_runs.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        help="two runs' parameters and metrics side by side (a unique prefix will do)",
    )
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
            print(
                f"{record['run']:<48} {str(record.get('at', ''))[:19]:<20} {record['params'].get('store_version') or '-':<26} {numbers}"
            )
    return 0


def list_versions(store: ModelStore, as_json: bool = False) -> int:
    """One line (or JSON record) per version, newest first; 1 (after the table) when latest.json cannot be read."""
    latest, _, unreadable = operations.readable_pointer(store)
    refused = store.refusal(latest) if latest else None
    pinned = read_pin(store.backend, store.uri)
    records = []
    if not as_json:
        print(f"{'version':<26} {'created':<21} {'r2':>7} {'size':>7} {'rows':>7}  status")
    for version in reversed(store.versions()):
        marks = []
        if version == latest:
            marks.append("latest" + (f" (fails verification: {refused})" if refused else ""))
        if version == pinned.version:
            marks.append(f"pinned by {pinned.actor} at {pinned.at}: {pinned.reason}")
        record = {"version": version, "latest": version == latest, "pinned": version == pinned.version}
        try:
            manifest = store.read_manifest(version)
        except ModelRejected as exc:
            records.append(record | {"unreadable": exc.reason})
            if not as_json:
                print(f"{version:<26} unreadable: {exc.reason}  {', '.join(marks)}".rstrip())
            continue
        records.append(
            record
            | {
                "created_at": manifest["created_at"],
                "r2": manifest["metrics"].get("r2"),
                "size_bytes": manifest["size_bytes"],
                "rows": manifest["data"].get("rows"),
                "latest_refused": refused if version == latest else None,
            }
        )
        if as_json:
            continue
        r2, rows = manifest["metrics"].get("r2"), manifest["data"].get("rows")
        print(
            f"{version:<26} {str(manifest['created_at'])[:19] + 'Z':<21} {_number(r2, '.4f'):>7} "
            f"{manifest['size_bytes']:>7} {_number(rows, '.0f'):>7}  {', '.join(marks)}".rstrip()
        )
    if as_json:
        print(json.dumps(records, indent=2, sort_keys=True))
    elif pinned.version is not None:
        print(f"pinned to {pinned.version}: pipeline runs store new versions but do not make them latest")
    if unreadable:
        print(f"error: {unreadable}; `salary-models repair` points it where the web app falls back", file=sys.stderr)
        return 1
    return 0


def _number(value, spec: str) -> str:
    """A manifest number for the table; what it is otherwise (a manifest is the store writer's text)."""
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def list_history(store: ModelStore, as_json: bool = False) -> int:
    """One line (or JSON record) per history record, oldest first (invalid records are skipped, with a warning on stderr)."""
    if as_json:
        print(json.dumps(store.history(), indent=2, sort_keys=True))
        return 0
    for record in store.history():
        print(
            f"{record['at']}  {record['action']:<8} {record['from'] or '-'} -> {record['to'] or '-'}  "
            f"by {record['actor']}"
            + (f": {record['reason']}" if record["reason"] else "")
            + (f" (from {record['source_store']})" if record.get("source_store") else "")
        )
    return 0


def verify(store: ModelStore, versions: list[str], as_json: bool = False) -> int:
    """Load each version exactly as the web app does; 1 when any is refused."""
    records = []
    for version in versions:
        reason = store.refusal(version)
        records.append({"version": version, "ok": reason is None, "refused": reason})
        if not as_json:
            print(f"ok       {version}" if reason is None else f"refused  {version}: {reason}")
    if as_json:
        print(json.dumps(records, indent=2, sort_keys=True))
    return 1 if any(record["refused"] for record in records) else 0


def prune(store: ModelStore, keep: int, yes: bool) -> int:
    """Print (or, with --yes, delete) the versions beyond the newest `keep`, minus the protected ones."""
    doomed, kept = operations.prune_plan(store, keep)
    for version, why in sorted(kept.items(), reverse=True):
        print(f"keep {version}: {why}")
    if not doomed:
        print(f"nothing to prune: {len(kept)} version{'s' if len(kept) != 1 else ''}, all kept")
        return 0
    for version in doomed:
        if yes:
            operations.delete_version(store, version)
        print(f"{'deleted' if yes else 'would delete'} {version}")
    if not yes:
        print("(nothing deleted: add --yes to delete these)")
    return 0


def _since(args: argparse.Namespace) -> datetime | None:
    """The earliest time of a logged prediction to use."""
    return datetime.now(UTC) - args.since if args.since else None


def _logged(source: str, since: datetime | None) -> drift.Logged:
    """The records of a log file or export; a table is read by the callers, as SQL."""
    logged = drift.read_log(source, since)
    if logged.unreadable:
        print(f"note: {source}: {logged.skipped()}", file=sys.stderr)
    return logged


def check_drift(store: ModelStore, args: argparse.Namespace) -> int:
    """The drift check: 0 below the threshold, 1 above (with the structured warning line)."""
    version = args.version or store.latest_version()
    manifest = store.read_manifest(version)
    now, since = datetime.now(UTC), _since(args)
    if args.source.startswith("bq://"):
        from salary.bigquery import table_drift

        result = table_drift(args.source, manifest, since or datetime(1970, 1, 1, tzinfo=UTC), args.threshold, now)
    else:
        logged = _logged(args.source, since)
        if version not in logged.years:
            raise DriftError(
                f"{args.source}: no logged predictions of version {version} (logged: {drift.versions_seen(logged)})"
            )
        result = drift.drift_from_values(manifest, logged.values(version), args.threshold, now)
    if args.plot:
        from salary.plotting import histograms_svg

        with open(args.plot, "w") as handle:
            handle.write(histograms_svg(result))
    if args.record:
        drift.record_drift(store, result)
    if args.json:
        print(json.dumps(result.as_dict(), sort_keys=True))
    else:
        _print_drift(result)
    if result.drifted:
        print(json.dumps(drift.drift_warning(result), sort_keys=True), flush=True)
        return 1
    return 0


def _print_drift(result: drift.Drift) -> None:
    """The counts side by side, then the verdict."""
    training, serving = sum(result.training), sum(result.serving)
    print(f"{'years':<10} {'training':>9} {'share':>7} {'serving':>9} {'share':>7}")
    for index, (trained, served) in enumerate(zip(result.training, result.serving, strict=True)):
        span = f"{drift.EDGES[index]:g}-{drift.EDGES[index + 1]:g}"
        print(f"{span:<10} {trained:>9} {trained / training:>7.1%} {served:>9} {served / serving:>7.1%}")
    if result.years_min is not None:
        print(
            f"outside the trained years {result.years_min:g}-{result.years_max:g}: {result.outside_share:.1%} of {serving} logged values"
        )
    verdict = "DRIFT" if result.drifted else "no drift"
    print(
        f"version {result.version}: Jensen-Shannon divergence {result.divergence:.4f}, threshold {result.threshold:g}: {verdict}"
    )


def show_impact(
    store: ModelStore, candidate: str, against: str | None, source: str, since: datetime | None, as_json: bool
) -> None:
    """The change in the logged answers if `candidate` replaced `against` (default: latest)."""
    result = logged_impact(store.load(candidate), store.load(against or store.latest_version()), source, since)
    if as_json:
        print(json.dumps(result.as_dict(), sort_keys=True))
    else:
        print_impact(result)


def logged_impact(new: LoadedModel, old: LoadedModel, source: str, since: datetime | None) -> Impact:
    """How the answers to the predictions logged at `source` move if `new` replaced `old`."""
    if source.startswith("bq://"):
        from salary.bigquery import table_years

        years, counts = table_years(source, since or datetime(1970, 1, 1, tzinfo=UTC))
    else:
        years, counts = _logged(source, since).values(), None
    return impact(new, old, years, counts)


def print_impact(result: Impact) -> None:
    """The impact report: the sizes of the change, then per band of years."""
    print(
        f"{result.candidate} instead of {result.against}, on {result.count} logged predictions (absolute change in the answer):"
    )
    print(
        f"median ${result.median:,.0f}, 95th percentile ${result.p95:,.0f}, max ${result.max:,.0f}; mean signed change ${result.mean_signed:+,.0f}"
    )
    if result.beyond_margin is not None:
        span = f"±${result.margin_low:,.0f}"
        if result.range_by_years:
            span = f"{span} to ±${result.margin_high:,.0f} by years, each answer against its own"
        print(f"moved by more than the current 95 % range ({span}): {result.beyond_margin:.1%}")
    print(f"{'years':<10} {'asked':>7} {'median':>10} {'max':>10}")
    for band in result.bands:
        print(
            f"{f'{band.low:g}-{band.high:g}':<10} {band.count:>7} {f'${band.median:,.0f}':>10} {f'${band.max:,.0f}':>10}"
        )


def promote(args: argparse.Namespace) -> int:
    """Promote a version between two stores; with --source, first the impact on the target's logged predictions."""
    source, target = open_store(args.from_store), open_store(args.to_store)
    operations.check_exists(source, "--from")  # the target may be new: the first promotion into it makes it
    plan = promotion.plan_promotion(source, target, operations.resolve_version(source, args.version))
    change = None
    if args.source and not plan.already_promoted:
        try:
            served = target.load(plan.previous) if plan.previous else None
        except ModelRejected:
            served = None
        if served is None:
            print(f"note: {target.uri} serves no verified version yet: no impact to show", file=sys.stderr)
        else:
            change = logged_impact(source.load(plan.version), served, args.source, None)
            if not args.json:
                print_impact(change)
    done = promotion.promote(plan, args.reason)
    if args.json:
        print(json.dumps(done | {"impact": change and change.as_dict()}, indent=2, sort_keys=True))
    elif done["record"] is None:
        print(
            f"{plan.version} is already promoted to {target.uri}: the same bytes are there and latest.json names it; "
            "nothing written"
        )
    else:
        copied = ", ".join(done["copied"]) or "nothing (the same bytes were there)"
        print(
            f"copied {plan.version} from {source.uri} to {target.uri}: {copied}; sha256 checked in transit and at the target"
        )
        print(f"latest.json: {plan.previous or '-'} -> {plan.version} (web apps follow within their poll interval)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Carry out one command on the store."""
    if args.command == "runs":
        return show_runs(args.local_root, args.compare, args.json)
    if args.command == "promote":
        return promote(args)
    store = open_store(getattr(args, "store", None) or os.environ.get("MODEL_URI") or defaults.LOCAL_MODEL_STORE)
    operations.check_exists(store)
    for name in ("version", "to", "candidate", "against"):
        if getattr(args, name, None):
            setattr(args, name, operations.resolve_version(store, getattr(args, name)))
    if args.command == "list":
        return (list_history if args.history else list_versions)(store, args.json)
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
        return verify(store, store.versions() if args.all else [args.version or store.latest_version()], args.json)
    if args.command == "drift":
        return check_drift(store, args)
    if args.command == "impact":
        show_impact(store, args.candidate, args.against, args.source, _since(args), args.json)
        return 0
    if args.command == "rollback":
        if args.source:
            show_impact(store, args.to, None, args.source, None, False)
        record = operations.rollback(store, args.to, args.reason)
        print(f"latest.json: {record['from']} -> {record['to']} (web apps follow within their poll interval)")
    elif args.command == "pin":
        record = operations.pin(store, args.version, args.reason)
        print(f"pinned to {record['to']} (latest.json was {record['from']})")
    elif args.command == "repair":
        record = operations.repair(store, args.reason)
        print(f"latest.json: {record['from'] or 'unreadable'} -> {record['to']} ({record['reason']})")
    elif args.command == "unpin":
        record = operations.unpin(store, args.reason)
        print(f"unpinned {record['from']}: the next blessed publish moves latest.json again")
    else:
        return prune(store, args.keep, args.yes)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when done, 1 when the store refused or failed (one line on stderr), 2 on bad usage.

    drift and impact: 1 means drift; a store or a source that cannot be read is 2, like bad usage.
    promote --source: a log that cannot be read is 2, before anything is written.
    reproduce: 0 MATCH, 1 a difference, 2 when it could not check (bad usage, an unreadable store, version or input).
    """
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (StoreError, DriftError) as exc:
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2 if args.command in ("drift", "impact", "reproduce") or isinstance(exc, DriftError) else 1


if __name__ == "__main__":
    sys.exit(main())

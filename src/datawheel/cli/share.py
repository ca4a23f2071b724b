"""Sharing and licensing commands: share (releases, DP statistics) and license."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    EncodingOption,
    JsonOption,
    WorkspaceOption,
    authorized,
    console,
    load_project,
    open_workspace,
    print_json,
)


class _DefaultRelease(TyperGroup):
    """``datawheel share INPUT ...`` is ``datawheel share create INPUT ...``: the first word
    picks a subcommand only when it names one."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


share_app = typer.Typer(
    cls=_DefaultRelease,
    help="Share data with partners: signed releases and differentially private statistics.\n\n"
    "Example: datawheel share data/people.csv --to acme-labs -o release/",
    no_args_is_help=True,
)
license_app = typer.Typer(
    help="Licenses for exported models: issue, list, revoke.\n\n"
    "Example: datawheel license issue --licensee acme --expires 2027-06-30 --bundle bundle/",
    no_args_is_help=True,
)

InputArg = Annotated[str, typer.Argument(help="A .csv/.parquet/.jsonl file or a dataset id.")]


def _encoding(option: str | None, config: Any) -> str:
    """--encoding, else the project's data.encoding, else auto (detected)."""
    return option or (config.data.encoding if config is not None else "auto")


def _project_and_workspace(config: Path, workspace: Path | None) -> tuple[Any, Any]:
    if config.is_file():
        project = load_project(config, workspace)
        from datawheel.store.roles import role_from_env

        return project.config, project.open_workspace(role=role_from_env())
    return None, open_workspace(config, workspace)


@share_app.command("create")
@authorized("share")
def share_create(
    source: InputArg,
    partner: Annotated[str, typer.Option("--to", help="The partner receiving the release.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="A new, empty folder.")],
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Release policy (YAML); default: the project's.")
    ] = None,
    recipient_key: Annotated[
        Path | None,
        typer.Option("--recipient-key", help="The partner's X25519 public key: encrypt to it."),
    ] = None,
    encoding: EncodingOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a signed release: data.parquet, datasheet.html and manifest.json.

    The policy keeps, drops and transforms columns and enforces k-anonymity; pseudonyms are
    keyed for the partner. `datawheel share INPUT ...` is the same command.

    Example: datawheel share data/people.csv --to acme-labs --policy release.yaml -o release/
    """
    from datawheel.privacy.release import load_policy
    from datawheel.project.share import share_dataset

    project_config, ws = _project_and_workspace(config, workspace)
    with ws:
        receipt = share_dataset(
            ws,
            source,
            partner=partner,
            output=output,
            config=project_config,
            policy=load_policy(policy) if policy else None,
            recipient_key=recipient_key,
            encoding=_encoding(encoding, project_config),
        )
    if as_json:
        print_json(receipt.to_dict())
        return
    report = receipt.report
    console.print(
        f"Release {receipt.id} for {receipt.partner}: {receipt.rows} rows "
        f"({report['rows_in'] - report['rows_out']} suppressed), {len(report['columns_out'])} "
        f"columns, {receipt.subjects} subjects → {receipt.directory}"
        + (" (encrypted to the partner's key)" if receipt.encrypted else "")
    )
    console.print(f"Signed with key {receipt.key_id}. A release cannot be recalled.")


@share_app.command("verify")
@authorized("receive")
def share_verify(
    directory: Annotated[Path, typer.Argument(help="The release folder.")],
    key: Annotated[
        Path | None, typer.Option("--key", help="Your X25519 private key: decrypt the data.")
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="The issuer's public key (PEM) to pin the signer."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the signature, the signer and every file's hash; decrypt with --key.

    Example: datawheel share verify release/ --key acme.key --public-key issuer.pem
    """
    from datawheel.project.share import verify_release
    from datawheel.signing import load_public_key

    pinned = None
    if public_key is not None:
        pinned = load_public_key(public_key.read_text(encoding="ascii"), where=str(public_key))
    trusted = _workspace_keys()
    report = verify_release(directory, private_key=key, pinned=pinned, trusted=trusted)
    if as_json:
        print_json(report.to_dict())
        return
    signer = {True: "trusted", False: "NOT trusted", None: "not pinned (pass --public-key)"}
    console.print(
        f"Release {report.release} for {report.partner}: signature valid, "
        f"{len(report.files_ok)} files match their hashes, signer {report.signer_key_id} "
        f"{signer[report.signer_trusted]}."
    )
    if report.decrypted_to:
        console.print(f"Decrypted to {report.decrypted_to}.")


def _workspace_keys() -> Any:
    """The trusted keys of the project in this folder, if there is one (else None)."""
    if not DEFAULT_CONFIG.is_file():
        return None
    from datawheel.store.trusted_keys import trusted_keys

    ws = load_project(DEFAULT_CONFIG, None).open_workspace()
    with ws:
        return trusted_keys(ws)


@share_app.command("keygen")
@authorized("receive")
def share_keygen(
    prefix: Annotated[Path, typer.Option("--output", "-o", help="Writes PREFIX.key, PREFIX.pub.")],
) -> None:
    """For a partner: an X25519 key pair to receive encrypted releases.

    Example: datawheel share keygen -o acme
    """
    from datawheel.project.share import generate_partner_keys

    private, public = generate_partner_keys(prefix)
    console.print(f"Private key {private} (keep it; mode 0600); send {public} to the issuer.")


@share_app.command("stats")
@authorized("share")
def share_stats_command(
    source: InputArg,
    group_by: Annotated[str, typer.Option("--group-by", help="Columns A,B (empty: overall).")],
    measure: Annotated[str, typer.Option("--measure", help="count, sum:COL, mean:COL")],
    epsilon: Annotated[float, typer.Option("--epsilon", help="Privacy loss this query spends.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Result table (.csv).")],
    delta: Annotated[
        float, typer.Option("--delta", help="> 0 releases only groups above a noisy threshold.")
    ] = 0.0,
    bounds: Annotated[
        list[str] | None, typer.Option("--bounds", help="COL=LOW:HIGH for sums and means.")
    ] = None,
    keys: Annotated[
        list[str] | None, typer.Option("--keys", help="COL=A|B|C: public values of a group.")
    ] = None,
    max_contributions: Annotated[
        int, typer.Option("--max-contributions", help="Rows kept per subject (data.id).", min=1)
    ] = 1,
    encoding: EncodingOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Differentially private counts, sums and means by group, with accuracy intervals.

    Every query spends from the dataset's privacy budget (share.dp_budget); a query over
    the budget is refused.

    Example: datawheel share stats data/people.csv --group-by sex --measure count,mean:age
    --bounds age=0:120 --keys sex=F|M --epsilon 0.5 -o stats.csv
    """
    from datawheel.project.share import share_stats

    project_config, ws = _project_and_workspace(config, workspace)
    with ws:
        receipt = share_stats(
            ws,
            source,
            group_by=[c.strip() for c in group_by.split(",") if c.strip()],
            measures=measure,
            epsilon=epsilon,
            delta=delta,
            output=output,
            bounds=bounds,
            keys=keys,
            config=project_config,
            max_contributions=max_contributions,
            encoding=_encoding(encoding, project_config),
        )
    if as_json:
        print_json(receipt.to_dict())
        return
    rows = receipt.release.rows
    table = Table(title=f"ε = {receipt.release.epsilon:g}, 95 % accuracy", show_lines=False)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    for column in columns:
        table.add_column(column, justify="left" if column in receipt.release.group_by else "right")
    for row in rows:
        table.add_row(*[_cell(row.get(c)) for c in columns])
    console.print(table)
    if receipt.release.suppressed_note:
        console.print(receipt.release.suppressed_note)
    b = receipt.budget
    console.print(
        f"Budget of {b.dataset[:40]}: spent ε={b.epsilon_spent:g} of {b.epsilon_budget:g} "
        f"(δ={b.delta_spent:g} of {b.delta_budget:g}); written to {receipt.output}"
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:,.2f}" for v in value) + "]"
    return "—" if value is None else str(value)


@share_app.command("list")
@authorized("read")
def share_list(
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every release, with its partner, size and signing key.

    Example: datawheel share list
    """
    from datawheel.project.share import list_releases

    ws = open_workspace(config, workspace)
    with ws:
        rows = list_releases(ws)
    if as_json:
        print_json(rows)
        return
    table = Table("release", "partner", "rows", "created", "key", "encrypted to")
    for row in rows:
        table.add_row(
            row["id"], row["partner"], str(row["rows"]), row["created_at"][:19], row["key_id"],
            row["encrypted_to"] or "—",
        )  # fmt: skip
    console.print(table)


# -- licenses --------------------------------------------------------------------------------


@license_app.command("issue")
@authorized("license")
def license_issue(
    licensee: Annotated[str, typer.Option("--licensee", help="Who may use the model.")],
    expires: Annotated[str, typer.Option("--expires", help="Last valid day, YYYY-MM-DD.")],
    bundle: Annotated[Path, typer.Option("--bundle", help="The folder `datawheel export` wrote.")],
    features: Annotated[str, typer.Option("--features", help="predict,explain")] = "predict",
    max_rows: Annotated[
        int | None, typer.Option("--max-rows", help="Rows the licensee may score in all.")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign a license into an export bundle; the bundle refuses to run outside its terms.

    Example: datawheel license issue --licensee acme --expires 2027-06-30 --features
    predict,explain --bundle bundle/
    """
    from datawheel.errors import UsageError
    from datawheel.registry.licenses import issue_license

    try:
        last_day = dt.date.fromisoformat(expires)
    except ValueError:
        raise UsageError(f"--expires {expires!r} is not a date", hint="use YYYY-MM-DD") from None
    ws = open_workspace(config, workspace)
    with ws:
        record = issue_license(
            ws,
            licensee=licensee,
            expires=last_day,
            bundle=bundle,
            features=[f.strip() for f in features.split(",") if f.strip()],
            max_rows=max_rows,
        )
    if as_json:
        print_json(record.to_dict())
        return
    console.print(
        f"License {record.id} for {record.licensee}: {', '.join(record.features)} until "
        f"{record.expires}"
        + (f", at most {record.max_rows} rows" if record.max_rows else "")
        + f"; written to {bundle / 'license.json'}"
    )


@license_app.command("list")
@authorized("read")
def license_list(
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """The register of licenses issued.

    Example: datawheel license list
    """
    from datawheel.registry.licenses import list_licenses

    ws = open_workspace(config, workspace)
    with ws:
        records = list_licenses(ws)
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    table = Table("license", "licensee", "expires", "features", "max rows", "revoked")
    for r in records:
        table.add_row(
            r.id, r.licensee, r.expires, ",".join(r.features),
            str(r.max_rows or "—"), (r.revoked_at or "")[:10] or "—",
        )  # fmt: skip
    console.print(table)


@license_app.command("revoke")
@authorized("license")
def license_revoke(
    license_id: Annotated[str, typer.Argument(help="The license id.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the signed revocation list.")
    ] = Path("revocations.json"),
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")] = "",
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke a license and write the signed revocation list that bundles honour.

    Give the list to the licensee (or place it in the bundle as revocations.json).

    Example: datawheel license revoke lic-0123456789abcdef -o revocations.json
    """
    from datawheel.registry.licenses import revoke_license

    ws = open_workspace(config, workspace)
    with ws:
        document = revoke_license(ws, license_id, reason=reason, output=output)
    n = len(document["body"]["revoked"])
    console.print(f"Revoked {license_id}; the list of {n} revoked licenses is in {output}.")


def register(app: typer.Typer) -> None:
    app.add_typer(share_app, name="share")
    app.add_typer(license_app, name="license")

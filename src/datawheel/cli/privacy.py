"""Privacy commands: pii scan, anonymize, privacy check, reveal, secret, erase, subject export.

The role comes from ``DATAWHEEL_ROLE``, else the owner of ``datawheel.key`` is admin
(`store.roles`); the command checks it first and the library again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    EncodingOption,
    EngineOption,
    JsonOption,
    RayAddressOption,
    WorkspaceOption,
    authorized,
    console,
    err_console,
    load_project,
    open_workspace,
    print_json,
)

InputArg = Annotated[Path, typer.Argument(help="Input table: .csv, .parquet or .jsonl.")]
OutputOption = Annotated[Path, typer.Option("--output", "-o", help="Output file.")]
SourceArg = Annotated[
    str,
    typer.Argument(
        help="Input table: .csv, .parquet or .jsonl; with --engine ray also a folder of "
        "Parquet parts, local or s3://BUCKET/PREFIX."
    ),
]
TargetOption = Annotated[
    str,
    typer.Option(
        "--output",
        "-o",
        help="Output file (with --engine ray also s3://; for anonymize a name without an "
        "extension, or ending in /, is a folder of Parquet parts).",
    ),
]
SubjectOption = Annotated[
    str, typer.Option("--subject", help="The subject's raw id (its data.id value, e.g. P000123).")
]


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _workspace(config: Path, workspace: Path | None) -> Any:
    return open_workspace(config, workspace)


def _project(config: Path, workspace: Path | None) -> tuple[Any, Any]:
    project = load_project(config, workspace)
    return project, project.open_workspace()


# -- pii ---------------------------------------------------------------------------------------

pii_app = typer.Typer(
    help="Find PII in text.\n\nExample: datawheel pii scan notes.csv -o spans.jsonl",
    no_args_is_help=True,
)


@pii_app.command("scan")
@authorized("scan")
def pii_scan(
    source: SourceArg,
    output: TargetOption,
    text_field: Annotated[
        str | None, typer.Option("--text-field", help="The text column (optional if only one).")
    ] = None,
    lang: Annotated[str, typer.Option(help="auto, en or zh.")] = "auto",
    images: Annotated[
        str | None,
        typer.Option(
            "--images",
            help="Image columns (comma-separated): faces and personal metadata per row.",
        ),
    ] = None,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
    encoding: EncodingOption = None,
) -> None:
    """One JSON line per row: {"index", "spans": [{"start", "end", "type", "score"}]}.

    Offsets are Python str code points, end exclusive. With --images each line also has
    "media": faces (FACE, with its box) and what the file's EXIF, XMP and IPTC carry
    (GPS_LOCATION, DEVICE_SERIAL, PERSON, LOCATION — the field, never its value).

    Example: datawheel pii scan tickets.csv -o spans.jsonl --text-field message
    """
    from datawheel.data.engines import check_engine
    from datawheel.errors import UsageError

    if lang not in ("auto", "en", "zh"):
        raise UsageError(f"--lang must be auto, en or zh, got {lang!r}")
    if check_engine(engine) == "ray":
        from datawheel.cli.data import progress_bar
        from datawheel.privacy.ray_privacy import scan_file_on_ray

        with progress_bar() as progress:
            rows = scan_file_on_ray(
                source,
                output,
                text_field=text_field,
                lang=lang,  # type: ignore[arg-type]
                encoding=encoding or "auto",
                address=ray_address,
                progress=progress,
            )
        console.print(f"scanned {rows} rows on Ray → {output}")
        return
    from datawheel.data.engines import local_path
    from datawheel.privacy.files import scan_file

    rows = scan_file(
        local_path(source),
        local_path(output, what="--output"),
        text_field=text_field,
        lang=lang,  # type: ignore[arg-type]
        encoding=encoding or "auto",
        images=[c.strip() for c in (images or "").split(",") if c.strip()],
    )
    console.print(f"scanned {rows} rows → {output}")


# -- anonymize ---------------------------------------------------------------------------------


@authorized("anonymize")
def anonymize(
    source: SourceArg,
    output: TargetOption,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
    encoding: EncodingOption = None,
) -> None:
    """Apply the project's privacy rules (privacy.columns, privacy.text) to a file.

    Columns that look like PII but have no rule are left as they are: a warning lists them
    with the config lines to add.

    Example: datawheel anonymize data/new.csv -o anonymized.parquet -c datawheel.yaml
    """
    from datawheel.data.engines import check_engine, local_path
    from datawheel.privacy.files import anonymize_file
    from datawheel.store.roles import require

    on_ray = check_engine(engine) == "ray"
    if on_ray:
        from datawheel.data.ray_io import require_ray

        require_ray()  # before the workspace opens
    project, ws = _project(config, workspace)
    with ws:
        require(ws, "anonymize")
        if on_ray:
            from datawheel.cli.data import progress_bar
            from datawheel.privacy.ray_privacy import anonymize_file_on_ray

            with progress_bar() as progress:
                rows, result = anonymize_file_on_ray(
                    source,
                    output,
                    project.config,
                    ws.secret_key(),
                    encoding=encoding,
                    address=ray_address,
                    progress=progress,
                )
        else:
            result = anonymize_file(
                local_path(source),
                local_path(output, what="--output"),
                project.config,
                ws.secret_key(),
                encoding=encoding,
            )
            rows = result.frame.height
    done = ", ".join(f"{c} ({op})" for c, op in result.stats.columns.items()) or "nothing"
    console.print(f"{rows} rows → {output}; anonymized: {done}")
    if result.media is not None:
        from datawheel.cli.media import print_media

        print_media(result.media.summary(), result.rejects_file)
    if result.undeclared:
        err_console.print(
            "Warning: these columns look like PII but no rule covers them: "
            + ", ".join(f"{c} ({t})" for c, t in result.undeclared.items())
            + "\nadd under privacy.columns:\n"
            + "\n".join(f"  {line}" for line in result.suggestions())
        )


# -- privacy check -----------------------------------------------------------------------------

privacy_app = typer.Typer(
    help="k-anonymity and l-diversity.\n\n"
    "Example: datawheel privacy check people.csv --quasi age,zip,sex --k 5",
    no_args_is_help=True,
)


@privacy_app.command("check")
@authorized("scan")
def privacy_check(
    source: InputArg,
    quasi: Annotated[str, typer.Option("--quasi", help="Quasi-identifier columns, A,B,C.")],
    k: Annotated[int, typer.Option("--k", help="Smallest allowed equivalence class.")],
    sensitive: Annotated[
        str | None, typer.Option("--sensitive", help="Sensitive column, for l-diversity.")
    ] = None,
    l_div: Annotated[
        int | None, typer.Option("--l", help="Distinct sensitive values per class.")
    ] = None,
    enforce: Annotated[
        bool, typer.Option("--enforce", help="Generalize and suppress until k holds.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where --enforce writes.")
    ] = None,
    max_suppression: Annotated[
        float, typer.Option(help="Share of rows --enforce may suppress before widening more.")
    ] = 0.05,
    encoding: EncodingOption = None,
    as_json: JsonOption = False,
) -> None:
    """Report the k achieved and the smallest groups; exit 1 when k (or l) does not hold.

    With --enforce, numeric quasi-identifiers are binned ever wider, strings truncated, and
    rows still in small groups suppressed; the report says what that cost.

    Example: datawheel privacy check people.csv --quasi age,zip,sex --k 5 --enforce -o safe.csv
    """
    from datawheel.errors import DatawheelError, UsageError
    from datawheel.privacy.files import check_file
    from datawheel.privacy.kanon import EnforceReport

    if enforce and output is None:
        raise UsageError("--enforce needs -o OUTPUT", hint="add -o safe.csv")
    report = check_file(
        source,
        _split(quasi) or [],
        k,
        sensitive=sensitive,
        l=l_div,
        enforce_to=output if enforce else None,
        max_suppression=max_suppression,
        encoding=encoding or "auto",
    )
    if as_json:
        print_json(report.to_dict())
    else:
        _print_check(report)
    after = report.after if isinstance(report, EnforceReport) else report
    if not after.satisfied:  # exit 1: the work (the check) failed
        what = f"k={after.k}" + (f", l={after.l}" if after.l else "")
        raise DatawheelError(f"{what} does not hold (k achieved {after.k_achieved})")


def _print_check(report: Any) -> None:
    if hasattr(report, "after"):
        before, after = report.before, report.after
        console.print(
            f"enforced k={report.k}: {report.rows_suppressed} of {report.rows_in} rows suppressed"
        )
        for column, label in report.generalization.items():
            console.print(f"  {column}: {label} ({report.widened[column]} steps)")
        console.print(f"k before {before.k_achieved}, after {after.k_achieved}")
        report = after
    status = "holds" if report.satisfied else "does NOT hold"
    console.print(
        f"k={report.k} {status}: k achieved {report.k_achieved} over {report.classes} groups "
        f"of {report.rows} rows; smallest group {report.smallest_size} "
        f"({report.smallest_count} groups of that size); "
        f"{report.violating_classes} groups ({report.violating_rows} rows) below k"
    )
    if report.sensitive:
        console.print(
            f"l-diversity of {report.sensitive}: l achieved {report.l_achieved}"
            + (f", {report.l_violating_classes} groups below l={report.l}" if report.l else "")
        )


# -- reveal ------------------------------------------------------------------------------------


@authorized("reveal")
def reveal(
    source: InputArg,
    output: OutputOption,
    columns: Annotated[
        str | None, typer.Option("--columns", help="Columns to decrypt, A,B (default: all).")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    encoding: EncodingOption = None,
) -> None:
    """Decrypt the fields the `encrypt` operator protected (admin only; audited).

    The output file is readable by its owner only.

    Example: datawheel reveal anonymized.csv -o revealed.csv --columns ssn
    """
    from datawheel.privacy.files import reveal_file

    with _workspace(config, workspace) as ws:
        report = reveal_file(
            ws, source, output, columns=_split(columns), encoding=encoding or "auto"
        )
    cells = ", ".join(f"{c} {n}" for c, n in report.cells.items()) or "none"
    console.print(f"decrypted cells: {cells} → {output}")


# -- secret rotate -----------------------------------------------------------------------------

secret_app = typer.Typer(
    help="The secret key.\n\nExample: datawheel secret rotate", no_args_is_help=True
)


@secret_app.command("public-key")
@authorized("read")
def secret_public_key(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the PEM here (default: print).")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """The project's Ed25519 public key (PEM): partners and licensees pin it to check signatures.

    The private half is derived from the secret key and never printed.

    Example: datawheel secret public-key -o issuer.pem
    """
    from datawheel.atomic import atomic_write
    from datawheel.secret import load_secret_key
    from datawheel.signing import key_id, public_key_pem

    public = load_secret_key(config.parent.resolve()).signing_key.public_key()
    pem = public_key_pem(public)
    if output is None:
        typer.echo(pem, nl=False)
    else:
        atomic_write(output, pem)
        err_console.print(f"Public key {key_id(public)} written to {output}.")


@secret_app.command("rotate")
@authorized("rotate")
def secret_rotate(
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Generate a new secret key and re-encrypt the workspace under it (admin only).

    Artifact keys are re-wrapped, encrypted fields re-encrypted, pseudonyms re-tokenized from
    the raw data, and live model versions flagged for retraining; datawheel.key is replaced
    only once the database has committed. Restart servers afterwards.

    Example: datawheel secret rotate -c datawheel.yaml
    """
    from datawheel.privacy.rotation import rotate_key

    project, ws = _project(config, workspace)
    with ws:
        report = rotate_key(
            ws,
            privacy=project.config.privacy,
            id_column=project.config.data.id,
            text_columns=project.config.data.text,
            key_file=project.dir / "datawheel.key",
        )
    if as_json:
        print_json(report.to_dict())
        return
    if report.resumed:
        console.print(f"finished an interrupted rotation: key {report.new_fingerprint} in place")
        return
    console.print(
        f"rotated key {report.old_fingerprint} → {report.new_fingerprint}: "
        f"{report.artifact_keys_rewrapped} artifact keys re-wrapped, "
        f"{len(report.datasets_rewritten)} datasets re-tokenized "
        f"({report.tokens_mapped} tokens, {report.tokens_unmapped} without raw value kept), "
        f"{report.fields_reencrypted} fields re-encrypted"
    )
    if report.versions_needing_retraining:
        console.print(
            "needs retraining: "
            + ", ".join(report.versions_needing_retraining)
            + " — restart servers; the loop retrains"
        )


# -- erase / subject export --------------------------------------------------------------------


@authorized("erase")
def erase(
    subject: SubjectOption,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Erase a data subject everywhere (GDPR art. 17); admin only; a receipt goes to the audit log.

    Rows leave every dataset (old artifacts are crypto-shredded), predictions, feedback and
    lineage are deleted, models trained on the subject are tainted (the champion keeps serving,
    flagged for retraining). Running it twice is harmless.

    Example: datawheel erase --subject P000123
    """
    from datawheel.privacy.erasure import erase_subject

    project, ws = _project(config, workspace)
    with ws:
        receipt = erase_subject(ws, subject, id_column=project.config.data.id)
    if as_json:
        print_json(receipt.to_dict())
        return
    if receipt.nothing_left:
        console.print(f"nothing held about {receipt.subject} (already erased or never seen)")
        return
    console.print(
        f"erased {receipt.subject}: {sum(receipt.rows_removed.values())} rows from "
        f"{len(receipt.datasets_rewritten)} datasets; "
        + ", ".join(f"{n} {t}" for t, n in receipt.deleted.items())
    )
    if receipt.versions_tainted:
        console.print("tainted: " + ", ".join(receipt.versions_tainted))
    if receipt.champion_needs_retraining:
        console.print(f"champion {receipt.champion_needs_retraining} needs retraining")
    for release in receipt.releases_not_recalled:
        console.print(
            f"[yellow]release {release['release']} to {release['partner']} "
            f"({release['created_at'][:10]}) held this subject and cannot be recalled:[/] "
            "ask the partner to delete the subject's rows"
        )


subject_app = typer.Typer(
    help="A data subject's data (GDPR art. 15).\n\n"
    "Example: datawheel subject export --subject P000123 -o subject.json",
    no_args_is_help=True,
)


@subject_app.command("export")
@authorized("subject_export")
def subject_export(
    subject: SubjectOption,
    output: OutputOption,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Write everything held about a subject to a JSON file (admin only; mode 0600).

    Example: datawheel subject export --subject P000123 -o subject.json
    """
    from datawheel.privacy.files import export_subject_file

    project, ws = _project(config, workspace)
    with ws:
        counts = export_subject_file(ws, subject, output, id_column=project.config.data.id)
    console.print(", ".join(f"{n} {what}" for what, n in counts.items()) + f" → {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(pii_app, name="pii")
    app.command("anonymize")(anonymize)
    app.add_typer(privacy_app, name="privacy")
    app.command("reveal")(reveal)
    app.add_typer(secret_app, name="secret")
    app.command("erase")(erase)
    app.add_typer(subject_app, name="subject")

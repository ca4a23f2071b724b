"""Serving commands: serve, tenants, keys, usage."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    JsonOption,
    WorkspaceOption,
    authorized,
    console,
    load_project,
    print_json,
)

tenants_app = typer.Typer(
    help="Customers of the API.\n\nExample: datawheel tenants create acme --plan pro",
    no_args_is_help=True,
)
keys_app = typer.Typer(
    help="API keys (admin only).\n\nExample: datawheel keys create --tenant acme",
    no_args_is_help=True,
)
usage_app = typer.Typer(
    help="Metered usage for billing.\n\nExample: datawheel usage export "
    "--month 2026-11 -o usage.csv",
    no_args_is_help=True,
)


@authorized("serve", unless=("bundle", "receive"))
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=0, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Serve a licensed export bundle alone (no workspace)."),
    ] = None,
    revocations: Annotated[
        Path | None, typer.Option("--revocations", help="With --bundle: a signed revocation list.")
    ] = None,
    no_console: Annotated[
        bool, typer.Option("--no-console", help="Serve the API without the web console.")
    ] = False,
) -> None:
    """Serve the champion over HTTP to the tenants' API keys, and the web console at /console.

    Endpoints: /v1/predict, /v1/explain, /v1/feedback, /v1/models, /v1/usage, /healthz,
    /readyz, /metrics, /docs, /console (accounts: `datawheel users create`). Workers share
    state only through the database. With --bundle,
    a licensed export bundle is served on its own, within its license's terms.

    Example: datawheel serve --port 8000 --workers 2
    """
    import uvicorn

    if bundle is not None:
        _serve_bundle(bundle, revocations, host=host, port=port)
        return

    from datawheel.project.app_factory import CONSOLE_ENV, PROJECT_ENV, WORKSPACE_ENV
    from datawheel.serve.background import http_stack, worker_metrics_dir
    from datawheel.serve.model_holder import preflight

    project = load_project(config, workspace, need_data=False)
    with project.open_workspace() as ws:
        preflight(ws)  # fail here, in one line, not in every worker uvicorn would restart
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per worker (see docs/serving.md)
    os.environ[PROJECT_ENV] = str(project.path)
    os.environ[WORKSPACE_ENV] = str(project.workspace_dir)
    os.environ[CONSOLE_ENV] = "0" if no_console else "1"
    http, loop = http_stack()
    console.print(
        f"Serving {project.config.name} at http://{host}:{port} (docs: /docs; "
        + ("" if no_console else "console: /console; ")
        + f"{workers} worker{'s' if workers > 1 else ''}, {http} + {loop})"
    )
    if http == "h11" or loop == "asyncio":
        console.print(
            "[yellow]warning:[/] uvicorn's fast parser or loop is missing; "
            "pip install 'uvicorn[standard]' for several times the throughput"
        )
    with worker_metrics_dir():  # one scrape of /metrics sums every worker
        uvicorn.run(
            "datawheel.project.app_factory:build",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http=http,
            loop=loop,
            log_level="warning",
            access_log=False,
        )


def _serve_bundle(bundle: Path, revocations: Path | None, *, host: str, port: int) -> None:
    import uvicorn

    from datawheel.serve.bundle_app import BUNDLE_KEY_ENV, create_bundle_app

    app = create_bundle_app(
        bundle, revocations=revocations, api_key=os.environ.get(BUNDLE_KEY_ENV) or None
    )
    auth = (
        "API key required" if os.environ.get(BUNDLE_KEY_ENV) else f"no API key ({BUNDLE_KEY_ENV})"
    )
    console.print(f"Serving the licensed bundle {bundle} at http://{host}:{port} ({auth})")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@tenants_app.command("create")
@authorized("tenants")
def tenants_create(
    name: Annotated[str, typer.Argument(help="Tenant name.")],
    plan: Annotated[
        str, typer.Option(help="A plan from serve.plans (or made in the console).")
    ] = "free",
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Create a tenant on a plan (admin only).

    Example: datawheel tenants create acme --plan pro
    """
    from datawheel.serve.plans import plan_names
    from datawheel.serve.tenants import create_tenant

    project = load_project(config, workspace, need_data=False)
    with project.open_workspace() as ws:
        tenant_id = create_tenant(ws, name, plan=plan, plans=plan_names(ws, project.config))
    console.print(f"Created tenant {name} ({tenant_id}) on plan {plan}.")


@tenants_app.command("list")
@authorized("read")
def tenants_list(config: ConfigOption = DEFAULT_CONFIG, workspace: WorkspaceOption = None) -> None:
    """List tenants.

    Example: datawheel tenants list
    """
    from datawheel.serve.tenants import list_tenants

    with load_project(config, workspace, need_data=False).open_workspace() as ws:
        rows = list_tenants(ws)
    table = Table(title="tenants")
    for column in ("name", "id", "plan", "active", "created"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["name"]),
            str(r["id"]),
            str(r["plan"]),
            str(r["active"]),
            str(r["created_at"])[:19],
        )
    console.print(table)


@tenants_app.command("deactivate")
@authorized("tenants")
def tenants_deactivate(
    name: Annotated[str, typer.Argument(help="Tenant name.")],
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Refuse every key of a tenant (running servers: within serve.auth_cache_seconds); its
    keys and usage stay for billing. Admin only.

    Example: datawheel tenants deactivate acme
    """
    from datawheel.serve.tenants import deactivate_tenant

    with load_project(config, workspace).open_workspace() as ws:
        deactivate_tenant(ws, name)
    console.print(f"Deactivated tenant {name}.")


@tenants_app.command("activate")
@authorized("tenants")
def tenants_activate(
    name: Annotated[str, typer.Argument(help="Tenant name.")],
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Accept a deactivated tenant's keys again (those not revoked or expired). Admin only.

    Example: datawheel tenants activate acme
    """
    from datawheel.serve.tenants import activate_tenant

    with load_project(config, workspace).open_workspace() as ws:
        activate_tenant(ws, name)
    console.print(f"Activated tenant {name}.")


@tenants_app.command("set-plan")
@authorized("tenants")
def tenants_set_plan(
    name: Annotated[str, typer.Argument(help="Tenant name.")],
    plan: Annotated[str, typer.Argument(help="A plan from serve.plans (or made in the console).")],
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Move a tenant to another plan (running servers: within serve.auth_cache_seconds).
    Admin only.

    Example: datawheel tenants set-plan acme pro
    """
    from datawheel.serve.plans import plan_names
    from datawheel.serve.tenants import set_plan

    project = load_project(config, workspace)
    with project.open_workspace() as ws:
        old = set_plan(ws, name, plan, plans=plan_names(ws, project.config))
    console.print(f"Tenant {name}: plan {old} → {plan}.")


@keys_app.command("create")
@authorized("keys")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant name.")],
    role: Annotated[str, typer.Option(help="admin, engineer, analyst or service.")] = "service",
    expires: Annotated[
        str | None,
        typer.Option(help="Last day the key works, YYYY-MM-DD (UTC); default: until revoked."),
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Create an API key; it is printed once and stored only as a hash signed under the secret
    key. Admin only.

    Example: datawheel keys create --tenant acme --role service --expires 2027-06-30
    """
    from datawheel.serve.tenants import create_key

    with load_project(config, workspace, need_data=False).open_workspace() as ws:
        key = create_key(ws, tenant=tenant, role=role, expires=expires)
    until = f", valid through {expires}" if expires else ""
    console.print(
        f"key id {key.id} ({key.role}, tenant {key.tenant}{until}) — store it now, "
        "it is not shown again:",
        highlight=False,
    )
    typer.echo(key.secret)


@keys_app.command("list")
@authorized("keys")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """List API keys (never the keys themselves): id, tenant, role, dates and status. Admin
    only.

    Example: datawheel keys list --tenant acme
    """
    from dataclasses import asdict

    from datawheel.serve.tenants import list_keys

    with load_project(config, workspace).open_workspace() as ws:
        keys = list_keys(ws, tenant=tenant)
    if as_json:
        print_json([asdict(k) for k in keys])
        return
    table = Table(title="API keys")
    for column in ("id", "tenant", "role", "status", "created", "expires", "revoked"):
        table.add_column(column)
    for k in keys:
        table.add_row(k.id, k.tenant, k.role, k.status, k.created_at[:19],
                      (k.expires_at or "")[:19], (k.revoked_at or "")[:19])  # fmt: skip
    console.print(table)


@keys_app.command("revoke")
@authorized("keys")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (dw_<id>_…).")],
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke a key; running servers refuse it within serve.auth_cache_seconds (default 5 s).

    Example: datawheel keys revoke 3f9a0c2b1d4e
    """
    from datawheel.serve.tenants import revoke_key

    with load_project(config, workspace, need_data=False).open_workspace() as ws:
        revoke_key(ws, key_id)
    console.print(f"Revoked key {key_id}.")


@usage_app.command("export")
@authorized("usage")
def usage_export(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV file.")],
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Write the billing CSV for one month: tenant, plan, endpoint, day, requests, rows.

    Example: datawheel usage export --month 2026-11 -o usage.csv
    """
    from datawheel.serve.metering import export_usage

    with load_project(config, workspace, need_data=False).open_workspace() as ws:
        lines = export_usage(ws, month=month, output=output)
    console.print(f"Wrote {lines} lines to {output}.")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(tenants_app, name="tenants")
    app.add_typer(keys_app, name="keys")
    app.add_typer(usage_app, name="usage")

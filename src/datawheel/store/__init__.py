"""Layer 1: the workspace database, content-addressed artifacts, and the audit log."""

from datawheel.store.artifacts import ArtifactStore
from datawheel.store.workspace import Workspace, resolve_workspace_dir

__all__ = ["ArtifactStore", "Workspace", "resolve_workspace_dir"]

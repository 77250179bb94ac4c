"""Third-party browser code, served from the npm packages of package.json (never copied into the repository).

``scripts/start`` and ``scripts/test`` run ``npm ci`` into ``node_modules/`` (``PIAOWU_BROWSER_PACKAGES_DIR``
elsewhere); only the folders named here are served, under ``/static/vendor/<name>/``. A page that needs one
asks ``available`` first and works without it (the gate's camera falls back to typing, the API reference to
its OpenAPI document), so a server set up without npm still runs.
"""

from __future__ import annotations

from pathlib import Path

import anyio
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

URL = "/static/vendor"
# name under /static/vendor → folder inside node_modules, and the file whose presence says it is installed
PACKAGES: dict[str, tuple[str, str]] = {
    "swagger-ui": ("swagger-ui-dist", "swagger-ui-bundle.js"),  # the API reference (api/docs_page.py)
    "jsqr": ("jsqr/dist", "jsQR.js"),  # QR decoding where the browser has no BarcodeDetector (gate.js)
}


def folder(root: Path, name: str) -> Path:
    return root / PACKAGES[name][0]


def available(root: Path, name: str) -> bool:
    """Whether package ``name`` is installed under ``root`` (checked on each call: ``npm ci`` may run later)."""
    return (folder(root, name) / PACKAGES[name][1]).is_file()


def url(name: str, file: str) -> str:
    return f"{URL}/{name}/{file}"


class PackageFiles(StaticFiles):
    """A package's files; until ``npm ci`` has installed it, every path is "not found" (not a server error)."""

    async def check_config(self) -> None:
        if self.directory is None or not await anyio.to_thread.run_sync(Path(self.directory).is_dir):
            raise HTTPException(status_code=404)
        await super().check_config()


def static_apps(root: Path) -> dict[str, StaticFiles]:
    """Mount point → the static files of each package (mounted before /static, which would take the path)."""
    return {f"{URL}/{name}": PackageFiles(directory=str(folder(root, name)), check_dir=False) for name in PACKAGES}

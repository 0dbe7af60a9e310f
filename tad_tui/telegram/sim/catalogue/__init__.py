"""The deterministic demo catalogue that the simulated Telegram server serves.

``build_demo_plan`` describes every group, message and file (pure and fast; ``content``);
``open_catalogue`` and ``load_catalogue`` render that plan once into a directory
(``files/<document_id>.<ext>`` plus ``manifest.json``; ``generation``, ``render``) and afterwards
only read the manifest (``manifest``). ``model`` holds the data both sides share, ``synthetic`` the
benchmarks' catalogue of files of given sizes.
"""

from tad_tui.telegram.sim.catalogue.content import LONG_NAME, LONG_PERFORMER, build_demo_plan
from tad_tui.telegram.sim.catalogue.desktop_export import ensure_desktop_export, export_result
from tad_tui.telegram.sim.catalogue.generation import (
    CatalogueRender,
    load_catalogue,
    load_plan,
    open_catalogue,
    render_files,
)
from tad_tui.telegram.sim.catalogue.manifest import catalogue_from_manifest, manifest_for, read_catalogue
from tad_tui.telegram.sim.catalogue.model import (
    CATALOGUE_VERSION,
    DC_ID,
    DEMO_PLAN_NAME,
    GENERAL_TITLE,
    GENERAL_TOPIC,
    MANIFEST_NAME,
    AudioSource,
    Catalogue,
    CataloguePlan,
    DemoFile,
    DemoGroup,
    DemoMessage,
    DemoTopic,
    FilePlan,
    GroupPlan,
    MessagePlan,
    PdfSource,
)
from tad_tui.telegram.sim.catalogue.render import Progress, tiny_pdf
from tad_tui.telegram.sim.catalogue.synthetic import synthetic_catalogue

__all__ = [
    "CATALOGUE_VERSION",
    "DC_ID",
    "DEMO_PLAN_NAME",
    "GENERAL_TITLE",
    "GENERAL_TOPIC",
    "LONG_NAME",
    "LONG_PERFORMER",
    "MANIFEST_NAME",
    "AudioSource",
    "Catalogue",
    "CataloguePlan",
    "CatalogueRender",
    "DemoFile",
    "DemoGroup",
    "DemoMessage",
    "DemoTopic",
    "FilePlan",
    "GroupPlan",
    "MessagePlan",
    "PdfSource",
    "Progress",
    "build_demo_plan",
    "catalogue_from_manifest",
    "ensure_desktop_export",
    "export_result",
    "load_catalogue",
    "load_plan",
    "manifest_for",
    "open_catalogue",
    "read_catalogue",
    "render_files",
    "synthetic_catalogue",
    "tiny_pdf",
]

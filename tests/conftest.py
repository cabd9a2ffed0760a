import pytest
import torch
from helpers import build_elementwise

from flowcore import flows
from flowcore.flows import Architecture

# Scripts the distributed tests launch under torchrun, not test modules: importing one (as
# --doctest-modules would) runs a training.
collect_ignore = ["ddp_worker.py", "dying_rank.py"]


@pytest.fixture(autouse=True)
def _float64_and_seeded():
    """The maths tests run in float64 by default, from a fixed seed."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(previous)


@pytest.fixture
def float32():
    """The app trains in float32, as users get it."""
    torch.set_default_dtype(torch.float32)


@pytest.fixture
def elementwise():
    """The one place the extra architecture is registered (and removed again)."""
    arch = flows.register(Architecture("elementwise", "Elementwise affine", build_elementwise,
                                       min_weights=lambda config: 2 * config.layers * config.dim))
    yield arch
    flows.unregister("elementwise")


# -- the app's tests (tests/app/) ------------------------------------------------------------------
@pytest.fixture(autouse=True, scope="session")
def _apptest_runs_the_entrypoint():
    """Make AppTest run app.py on every run, as the server does.

    AppTest forgets before each run that app.py called ``st.navigation``; because a ``pages/``
    folder exists, its second run would then execute the current page file on its own (the old
    pages-folder mode), without the sidebar app.py draws. The server decides this once.
    """
    from streamlit.runtime.pages_manager import PagesManager

    real = PagesManager.__init__

    def init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    yield
    PagesManager.__init__ = real


@pytest.fixture(scope="module")
def own_sessions():
    """Each AppTest is its own browser session (see app_helpers.distinct_sessions)."""
    from app_helpers import distinct_sessions

    with distinct_sessions():
        yield


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright (skips without it, unless REQUIRE_BROWSER=1)."""
    from app_helpers import CHROMIUM, CHROMIUM_ARGS, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real ``streamlit run app.py`` for this module's browser tests (app_helpers.Server)."""
    from app_helpers import Server, require_browser

    require_browser()
    srv = Server(tmp_path_factory.mktemp("server") / "monitor.json").start()
    yield srv
    srv.stop()

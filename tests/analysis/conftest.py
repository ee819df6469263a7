import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The known-answer checks are timed for one torch thread (and run identically with more)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

"""gameserver.client.link: what running bots does to the process around them."""

from __future__ import annotations

import gc

from gameserver.client import link


def test_bots_run_with_fewer_collections_and_the_process_gets_its_settings_back() -> None:
    before = gc.get_threshold()

    async def main() -> tuple[tuple[int, ...], int]:
        return gc.get_threshold(), gc.get_freeze_count()

    during, frozen = link.run(main())
    assert during == link.BOTS_GC_THRESHOLDS != before
    assert frozen > 0  # what existed before the bots is out of the collector's scans
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0

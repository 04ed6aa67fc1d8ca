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


def test_once_the_bots_are_connected_what_they_keep_is_frozen_too() -> None:
    before = gc.get_threshold()
    kept: list[list[int]] = []

    async def main() -> tuple[int, int, tuple[int, ...]]:
        kept.extend([n] for n in range(1000))  # what bots keep while they play
        frozen = gc.get_freeze_count()
        link.settled()
        return frozen, gc.get_freeze_count(), gc.get_threshold()

    frozen_before, frozen_after, during = link.run(main())
    assert frozen_after >= frozen_before + 1000
    assert during == link.PLAYING_GC_THRESHOLDS
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_outside_a_run_of_bots_settling_leaves_the_collector_alone() -> None:
    before = gc.get_threshold(), gc.get_freeze_count()
    link.settled()
    assert (gc.get_threshold(), gc.get_freeze_count()) == before

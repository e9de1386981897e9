"""Every action type has one handler on the guest (harness.guest.actions.HANDLERS) and is
predicted by the walk's table, a device kind's model, or as the guest's own action
(harness.analysis.simulate): a new action type without a row fails here, not in a boot."""
from __future__ import annotations

import typing

from harness.analysis import simulate
from harness.guest.actions import HANDLERS
from harness.scenario.action_schema import ACTION_TAGS, Action, CxlAction

ACTION_TYPES = typing.get_args(typing.get_args(Action)[0])


def test_every_action_type_has_exactly_its_handler() -> None:
    assert set(HANDLERS) == set(ACTION_TYPES)
    tags = {t for kind in ACTION_TYPES for t in typing.get_args(kind.model_fields["do"].annotation)}
    assert tags == ACTION_TAGS


def test_cxl_actions_are_predicted_by_the_cxl_model_not_the_walk() -> None:
    """The walk's own rows are the block, pc-dimm and node actions; virtio-mem's and CXL's
    come from their kinds' models, by action id."""
    walked = set(simulate._PREDICT)
    assert not {k for k in walked if issubclass(k, CxlAction)}
    assert {k.__name__ for k in walked} == {"OfflineNode", "BlockRangeAction", "DimmAdd",
                                             "DimmRemove", "NodeRemove"}

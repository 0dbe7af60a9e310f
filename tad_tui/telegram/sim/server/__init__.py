"""The simulated Telegram server: answers the TL requests tad-tui sends with real Telethon objects.

:class:`SimulatedTelegram` (``deployment``: its state and dispatch) answers them with the mixins
beside it: ``files`` (getFile, getFileHashes, file references), ``dcs`` (where files live, other
DCs' authorization), ``account`` (user, sign-in, 2FA), ``chats``, ``history`` (messages, search,
topics), ``updates`` (pushes, the live channel, getDifference) and ``takeout``. ``faults`` holds
:class:`FaultRule`.
"""

from tad_tui.telegram.sim.errors import DropConnection, RpcErrorReply
from tad_tui.telegram.sim.server.account import DEMO_LOGIN_CODE, DEMO_PHONE, SELF_USER_ID, srp_prime
from tad_tui.telegram.sim.server.dcs import ALL_DCS, OTHER_DCS, place_on_other_dcs
from tad_tui.telegram.sim.server.deployment import FLOOD_GRACE, LoggedRequest, SimulatedTelegram
from tad_tui.telegram.sim.server.faults import FaultRule
from tad_tui.telegram.sim.server.files import HASH_RANGE, HASHES_PER_ANSWER, MIB, NO_FILE_HASHES, check_getfile_window
from tad_tui.telegram.sim.server.updates import Push

__all__ = [
    "ALL_DCS",
    "DEMO_LOGIN_CODE",
    "DEMO_PHONE",
    "FLOOD_GRACE",
    "HASHES_PER_ANSWER",
    "HASH_RANGE",
    "MIB",
    "NO_FILE_HASHES",
    "OTHER_DCS",
    "SELF_USER_ID",
    "DropConnection",
    "FaultRule",
    "LoggedRequest",
    "Push",
    "RpcErrorReply",
    "SimulatedTelegram",
    "check_getfile_window",
    "place_on_other_dcs",
    "srp_prime",
]

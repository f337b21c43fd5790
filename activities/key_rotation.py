"""Activities of the master key rotation: rewrap a batch of data keys, retire unused keys."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from schemas.audit import Actor
from schemas.keys import RetireKeysInput, RetireKeysResult, RewrapBatchInput, RewrapBatchResult
from store.aes_keys import KeyDirectory
from store.data_keys import DataKeyRewrapper
from store.envelope import UnknownMasterKey
from temporal import names


class KeyRotationActivities:
    """Adapters from the rotation workflow to the data key store and the key directory."""

    def __init__(self, rewrapper: DataKeyRewrapper, key_dir: KeyDirectory | None) -> None:
        self._rewrapper = rewrapper
        self._key_dir = key_dir  # None: master keys come from the environment

    @activity.defn(name=names.ACTIVITY_REWRAP_DATA_KEYS)
    async def rewrap_data_keys(self, input: RewrapBatchInput) -> RewrapBatchResult:
        """One batch; a master key this worker does not hold ends the rotation clearly."""
        actor = Actor(user_id=f"rotation:{input.requested_by}")
        try:
            done, left = await self._rewrapper.rewrap_batch(
                input.target_key_id, input.batch_size, actor
            )
        except UnknownMasterKey as err:
            raise ApplicationError(
                f"{err}: restart the workers with the new key (MB_MASTER_KEY, and the old "
                "ones in MB_MASTER_KEY_PREVIOUS) and rotate again",
                type=names.ERROR_MASTER_KEY_UNKNOWN,
                non_retryable=True,
            ) from None
        activity.heartbeat(done)
        return RewrapBatchResult(rewrapped=done, remaining=left)

    @activity.defn(name=names.ACTIVITY_RETIRE_MASTER_KEYS)
    async def retire_master_keys(self, input: RetireKeysInput) -> RetireKeysResult:
        """Retire the unused keys; on the embedded key ring, delete their files too."""
        retired = await self._rewrapper.retire_unused(
            input.keep, Actor(user_id=f"rotation:{input.requested_by}")
        )
        if self._key_dir is not None:
            for kid in retired:
                self._key_dir.remove(kid)
        return RetireKeysResult(retired=retired)

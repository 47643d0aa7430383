"""The LightningDataModule of any dataset here: Lightning's face of a `SequenceDataModule`.

The datasets themselves import no Lightning (so `sweep data show` does not). A sweep's trial
hands Lightning their loaders directly; this is for code that wants a datamodule, as
`trainer.fit(module, datamodule=LightningData(AddingDataModule()))`.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl

from datamodules.base import SequenceDataModule


class LightningData(pl.LightningDataModule):
    """Forwards setup and the three loaders to the wrapped dataset."""

    def __init__(self, data: SequenceDataModule) -> None:
        super().__init__()
        self.data = data

    def setup(self, stage: str | None = None) -> None:
        self.data.setup(stage)

    def train_dataloader(self) -> Any:
        return self.data.train_dataloader()

    def val_dataloader(self) -> Any:
        return self.data.val_dataloader()

    def test_dataloader(self) -> Any:
        return self.data.test_dataloader()

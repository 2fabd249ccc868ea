"""What a training adds to a configuration of the search space: the final training's recipe,
each part of it defined once, as a field of `Recipe`."""

from dataclasses import dataclass, field, fields

from fashion_tuning.errors import UserError


def part(name, value, what, default=False):
    """A field of a recipe that the part `name` of --final-recipe (`what` it adds) sets to
    `value`; a training without that part has `default`."""
    return field(default=default, metadata={"part": name, "value": value, "what": what})


@dataclass(frozen=True)
class Recipe:
    """What a training adds to a configuration of the search space; trials add nothing.
    Each part is a measured choice (docs/design.md, "Final training"). Each field defaults to
    a training without its part, so a summary that does not record the field reads as one.

    Args:
        flip: mirror each training image left-right at random.
        flip_tta: predict the mean of the softmax of an image and of its mirror.
        first_stage_convs: conv layers at 28x28 (the trunk's default; the space's trials
            have it).
    """

    flip: bool = part("flip", True, "random left-right mirroring")
    flip_tta: bool = part("flip-tta", True, "predicting the mean over an image and its mirror")
    first_stage_convs: int = part("wide", 2, "a second conv at 28x28", default=1)

    @classmethod
    def offered(cls):
        """`{part name: (what it adds, {field: value})}` of the parts this recipe class takes."""
        return {f.metadata["part"]: (f.metadata["what"], {f.name: f.metadata["value"]})
                for f in fields(cls)}

    @classmethod
    def parse(cls, text):
        """The recipe that `text` names: "none", or parts of `offered()` joined by commas."""
        offered = cls.offered()
        parts = [] if text == "none" else text.split(",")
        unknown = [p for p in parts if p not in offered]
        if unknown:
            raise UserError(f"unknown part {unknown[0]!r}; give none, or some of "
                            f"{', '.join(offered)} joined by commas")
        return cls(**{k: v for p in parts for k, v in offered[p][1].items()})

    def __str__(self):
        """The parts, as --final-recipe takes them: "flip,flip-tta", or "none"."""
        return ",".join(self.parts()) or "none"

    def changes(self):
        """The fields that differ from a plain training's, as a dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != f.default}

    def parts(self):
        """The names of the parts that make up this recipe, in their order."""
        return [name for name, (_, args) in self.offered().items()
                if all(getattr(self, k) == v for k, v in args.items())]

    def model(self, hyperparameters, precision="float32"):
        """The compiled CNN of `hyperparameters` (`model.make_cnn`'s searched arguments), with
        what this recipe adds to it, in the dtype policy `precision`."""
        from fashion_tuning.model import STAGE2_CONVS, make_cnn  # Deferred: TensorFlow.

        return make_cnn(**hyperparameters, stage_convs=(self.first_stage_convs, STAGE2_CONVS),
                        flip=self.flip, precision=precision)

    def fit_data(self, model, x, y, validation_data, batch_size, epochs):
        """What `model` trains on over `epochs` epochs of `(x, y)` and is scored on
        (`validation_data`, or None), in batches of `batch_size`.

        Returns:
            `(training batches, batches an epoch (None: all of them), validation batches or
            None)`, as `model.fit` takes them.
        """
        from fashion_tuning.batches import batches  # Deferred: TensorFlow.

        validation = validation_data and batches(*validation_data, batch_size)
        return batches(x, y, batch_size, shuffle=True), None, validation

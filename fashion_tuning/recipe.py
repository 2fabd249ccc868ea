"""What a training adds to a configuration of the search space: the final training's recipe."""

from dataclasses import asdict, dataclass

from fashion_tuning.errors import UserError

# What each part that --final-recipe may name adds to the final training (`Recipe`).
RECIPE_PARTS = {
    "flip": ("random left-right mirroring", {"flip": True}),
    "shift": ("random shifts of up to 2 pixels", {"shift": 2}),
    "smooth": ("label smoothing 0.1", {"label_smoothing": 0.1}),
    "ema": ("a moving average of the weights", {"ema": True}),
    "flip-tta": ("predicting the mean over an image and its mirror", {"flip_tta": True}),
    "wide": ("a second conv at 28x28", {"first_stage_convs": 2}),
    "deep": ("a third conv stage at 7x7 and global average pooling", {"third_stage": True}),
    "whiten": ("fixed patch-whitening 3x3 filters before a 1x1 first conv", {"whiten": True}),
}


@dataclass(frozen=True)
class Recipe:
    """What a training adds to a configuration of the search space; trials add nothing.
    A field added later defaults to how earlier versions trained: their summaries lack it.

    Args:
        flip: mirror each training image left-right at random.
        shift: move each training image by up to this many pixels up or down and left or
            right at random, filling the border with black.
        label_smoothing: train on labels mixed with this share of a uniform distribution.
        ema: predict with an exponential moving average of the weights (momentum 0.99).
        flip_tta: predict the mean of the softmax of an image and of its mirror.
        first_stage_convs: conv layers at 28x28 (the trunk's default; the space's trials
            have it).
        third_stage: a third stage (one conv of 4x the filters at 7x7) whose output is
            averaged over the image, in place of flattening the second stage's.
        whiten: fixed 3x3 filters that whiten the training images' patches, each with its
            negative, then a ReLU, and the first stage's first conv 1x1 (airbench's first
            layer).
    """

    flip: bool = False
    shift: int = 0
    label_smoothing: float = 0.0
    ema: bool = False
    flip_tta: bool = False
    first_stage_convs: int = 1
    third_stage: bool = False
    whiten: bool = False

    @classmethod
    def parse(cls, text):
        """The recipe that `text` names: "none", or parts of `RECIPE_PARTS` joined by commas."""
        parts = [] if text == "none" else text.split(",")
        unknown = [p for p in parts if p not in RECIPE_PARTS]
        if unknown:
            raise UserError(f"unknown part {unknown[0]!r}; give none, or some of "
                            f"{', '.join(RECIPE_PARTS)} joined by commas")
        return cls(**{k: v for p in parts for k, v in RECIPE_PARTS[p][1].items()})

    def __str__(self):
        """The parts, as --final-recipe takes them: "flip,flip-tta", or "none"."""
        return ",".join(self.parts()) or "none"

    def changes(self):
        """The fields that differ from a plain training's, as a dict."""
        return {k: v for k, v in asdict(self).items() if v != getattr(Recipe, k)}

    def parts(self):
        """The names of the `RECIPE_PARTS` that make up this recipe, in their order."""
        return [name for name, (_, args) in RECIPE_PARTS.items()
                if all(getattr(self, k) == v for k, v in args.items())]

    def model_args(self):
        """The `make_cnn` arguments of the recipe (`flip_tta` acts on the trained model)."""
        args = asdict(self)
        del args["flip_tta"], args["first_stage_convs"]
        return args

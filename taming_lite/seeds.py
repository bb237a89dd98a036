"""The base seeds of the project's procedural data sets, in one place below every user of them.

Procedural data sets map item i to the seed (base seed, i), so sets of different base seeds never share
an image:
- TRAIN_SEED: the generators' training renders (`taming_lite.data.make_dataset`'s default);
- HELD_OUT_SEED: held-out renders the evaluation scores on (`taming_lite.evaluate`), never trained on;
- EVALUATOR_SEED: the evaluator networks' training renders (`taming_lite.evaluators`);
- USER_STYLE_SEED: the user-style conditions (`taming_lite.data.user_style`), drawn by a generator of their
  own, separate from the renderers (its streams are tagged, so a base seed shared with a renderer still
  gives unrelated draws).
"""

TRAIN_SEED = 0
HELD_OUT_SEED = 1
EVALUATOR_SEED = 2
USER_STYLE_SEED = 3

"""Measuring code of the scripts in benchmarks/: our networks against their reference implementations.

Not part of the humanparse package. The scripts import it as `benchlib` (benchmarks/ is their own folder, so it
is first on sys.path when they run); tests add benchmarks/ to sys.path themselves.

  measure.py      statistics, timing, FLOP counts, the convolution peak, Settings
  references.py   ours and the references (SSSegmentation 1.7.0, official CSENet) built with the same weights
  memory.py       peak memory of one forward, in a fresh subprocess
  processes.py    whole processes: environment, timing, alternating order, label equality
  schp_reference.py, ssseg_driver.py   SCHP's simple_extractor.py and SSSegmentation's CE2P as their users run them
  photos.py       synthetic people
  targets.py      the "Performance and deployment" issue's targets (PASS/MISS)
  inference.py, train_step.py, tta.py, precision.py   one comparison each, with its table or line
"""

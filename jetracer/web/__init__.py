"""The car's own web app (`jetracer web`): drive, label and curate a dataset from a phone.

One thin client of the same pilot the other commands drive: :mod:`.session` assembles the car,
camera, pilot and simulator and runs the control loop with its dead-man; :mod:`.server` is the
tornado HTTP + WebSocket front end; :mod:`.auth` the per-install login token; :mod:`.frames` the
newest-frame-only JPEG stream; :mod:`.dataset` and :mod:`.runs` the Label, Data and Runs pages'
file work. Nothing here imports tornado at module level except :mod:`.server`.
"""

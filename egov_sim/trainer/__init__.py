"""What trainers show: one application's flow between the systems (:mod:`egov_sim.trainer.flow`),
the web view that plays it step by step at ``/trainer`` of the control system, and the exports of
a trace and of a reglament."""

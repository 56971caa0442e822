"""Deployment planning: hot spot patrols (resources, patrol allocation, visit schedules, patrol cards),
transport-hub tactics, weapons sweeps and decision support after a serious incident."""

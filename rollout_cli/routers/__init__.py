"""Traffic routers behind one protocol (base.Router: read, apply, verify, explain; docs/routers.md):
file, http, nginx and HAProxy, registered in registry.BUILTIN_ROUTERS and the `rollout.routers`
entry-point group. An unknown name is a plan error, never a fallback."""

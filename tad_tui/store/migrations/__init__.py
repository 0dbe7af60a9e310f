"""Schema migrations (Tortoise built-in); applied by open_store. Never edit an applied one."""

"""The team server (`pilang serve`): policy.py says what code may do over it, developers.py keeps each
developer's session, app.py is the HTTP API, client.py is what `pilang --server` and the kernel use."""

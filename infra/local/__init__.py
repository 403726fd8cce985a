"""The local runtime: plays Tidings' AWS topology on one machine (`tidings dev`)."""

"""Server-rendered pages for people: the experiment list and each experiment's results."""

"""Pure rules and shared types. No I/O here: workflows, activities and the API all import this."""

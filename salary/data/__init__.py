"""The salary data set shipped with the project and the script that makes it."""

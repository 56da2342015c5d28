"""`humanparse serve`: an HTTP parsing service with micro-batching and a web page (needs `humanparse[serve]`)."""

"""The deploy service: pre-flight, package upload, change sets, events, status, destroy."""

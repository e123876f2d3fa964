"""The SDK: system clients (run / arun / astream), instrument() for existing OpenAI/Anthropic
clients.
"""

"""The Streamlit front end: thin pages over `decision/`, no rule logic of its own."""

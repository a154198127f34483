"""Server-rendered pages for the people who work in citygrid (officer, handler, dispatcher, shift leader)."""

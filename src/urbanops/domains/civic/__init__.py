"""Civil-service chatbot (FAQ answers in Korean and English) and Open311 complaints."""

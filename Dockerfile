FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -e .
ENV SHUYU_DATA_DIR=/data
EXPOSE 8000
CMD ["sh", "-c", "shuyu db upgrade && shuyu serve --host 0.0.0.0 --port 8000"]

from sqlmodel import Field, SQLModel


class Postcode(SQLModel, table=True):
    """Full postcodes with coordinates, loaded by ``signpost import-postcodes`` from the
    ONS Postcode Directory or NSPL (the shipped outcode centroids cover the rest)."""

    __tablename__ = "postcode"

    postcode: str = Field(primary_key=True, max_length=8)
    outcode: str = Field(max_length=4, index=True)
    latitude: float
    longitude: float
